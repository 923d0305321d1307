// Incident analytics page: draws each chart of incidents/analytics/charts.py (Chart.as_json)
// into its `[data-analytics-chart="slug"]` slot. The data comes from the <script type="application/json">
// named by the container's `data-source`; the tables under the charts hold the same numbers.
// `plot` is "stack" or "group" (bars) or "line"; null values are gaps, not zeros.
(function () {
  "use strict";
  const CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };
  const COLOURS = ["#b42318", "#dc6803", "#1d3f8f", "#067647", "#667085", "#7a5af8", "#0e9384"];

  function traceFor(chart, series, index) {
    const colour = COLOURS[index % COLOURS.length];
    if (chart.plot === "line") {
      return {
        type: "scatter", mode: "lines+markers", name: series.name, x: chart.x, y: series.values,
        connectgaps: false, line: { width: 1.5, color: colour }, marker: { color: colour },
      };
    }
    return { type: "bar", name: series.name, x: chart.x, y: series.values, marker: { color: colour } };
  }

  function layoutFor(chart) {
    return {
      margin: { l: 60, r: 20, t: 10, b: 60 },
      barmode: chart.plot === "stack" ? "stack" : "group",
      showlegend: chart.series.length > 1,
      legend: { orientation: "h", y: -0.2, traceorder: "normal" },
      xaxis: { type: "category", automargin: true },
      yaxis: {
        rangemode: "tozero", title: { text: chart.y_title },
        range: chart.y_title === "%" ? [0, 100] : undefined,
      },
      hovermode: "x unified",
    };
  }

  function draw(container) {
    if (container.dataset.drawn) { return; }
    const holder = document.getElementById(container.dataset.source);
    if (!holder || typeof Plotly === "undefined") { return; }
    container.dataset.drawn = "1";
    const data = JSON.parse(holder.textContent);
    (data.charts || []).forEach(function (chart) {
      const slot = container.querySelector('[data-analytics-chart="' + chart.slug + '"]');
      if (!slot || chart.x.length === 0) { return; }
      const traces = chart.series.map(function (series, index) { return traceFor(chart, series, index); });
      Plotly.react(slot, traces, layoutFor(chart), CONFIG);
    });
  }

  document.querySelectorAll("[data-analytics]").forEach(draw);
})();

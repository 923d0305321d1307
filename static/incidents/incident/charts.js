// Incident charts (incident page, COE metrics snapshot): draws the dict built by
// incidents/incident/charts.py. Each `[data-incident-charts]` element names, in `data-source`,
// the id of the <script type="application/json"> holding it. One plot per chart, into the element's
// `[data-chart-index="i"]` slot (created when the page has none): the incident period shaded,
// a dashed line per marker (start, detected, engaged...), the threshold as a dotted line.
// Times are UTC strings and Plotly draws them as given, so the axes read UTC.
(function () {
  "use strict";
  const RED = "#b42318";
  const MARKER = "#475467";
  const CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };

  function slotFor(container, index) {
    const found = container.querySelector('[data-chart-index="' + index + '"]');
    if (found) { return found; }
    const slot = document.createElement("div");
    slot.className = "chart";
    slot.dataset.chartIndex = String(index);
    container.appendChild(slot);
    return slot;
  }

  // Markers at the same moment (start, detected and alarm often are) share one line and label.
  function groupedMarkers(markers) {
    const groups = [];
    markers.forEach(function (marker) {
      const last = groups[groups.length - 1];
      if (last && last.at === marker.at) { last.labels.push(marker.label); }
      else { groups.push({ at: marker.at, labels: [marker.label] }); }
    });
    return groups;
  }

  function layoutFor(data, chart) {
    const shapes = [];
    const annotations = [];
    const incidentEnd = data.incident.end || data.window.end;
    shapes.push({
      type: "rect", xref: "x", yref: "paper", x0: data.incident.start, x1: incidentEnd,
      y0: 0, y1: 1, fillcolor: RED, opacity: 0.1, line: { width: 0 }, layer: "below",
    });
    groupedMarkers(data.markers || []).forEach(function (group) {
      shapes.push({
        type: "line", xref: "x", yref: "paper", x0: group.at, x1: group.at, y0: 0, y1: 1,
        line: { color: MARKER, width: 1, dash: "dash" },
      });
      annotations.push({
        x: group.at, xref: "x", y: 1, yref: "paper", yanchor: "top", xanchor: "left",
        text: group.labels.join(" · "), showarrow: false, textangle: -90,
        font: { size: 10, color: MARKER }, bgcolor: "rgba(255, 255, 255, 0.75)",
      });
    });
    if (chart.threshold !== null && chart.threshold !== undefined) {
      shapes.push({
        type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: chart.threshold, y1: chart.threshold,
        line: { color: RED, width: 1.5, dash: "dot" },
      });
      annotations.push({
        x: 1, xref: "paper", xanchor: "right", y: chart.threshold, yref: "y", yanchor: "bottom",
        text: (chart.kind === "slo" ? "page " : "threshold ") + chart.threshold + (chart.unit || ""),
        showarrow: false, font: { size: 10, color: RED },
      });
    }
    const shortUnit = chart.unit && chart.unit.length <= 2;
    return {
      margin: { l: 60, r: 20, t: 10, b: 40 },
      showlegend: chart.series.length > 1,
      legend: { orientation: "h", y: -0.15 },
      xaxis: {
        type: "date", range: [data.window.start, data.window.end],
        hoverformat: "%Y-%m-%d %H:%M:%S UTC",
      },
      yaxis: {
        rangemode: "tozero", ticksuffix: shortUnit ? chart.unit : "",
        title: shortUnit || !chart.unit ? undefined : { text: chart.unit },
      },
      hovermode: "x unified",
      shapes: shapes,
      annotations: annotations,
    };
  }

  function draw(container) {
    if (container.dataset.drawn) { return; } // the script may be on the page twice
    const holder = document.getElementById(container.dataset.source);
    if (!holder || typeof Plotly === "undefined") { return; }
    container.dataset.drawn = "1";
    const data = JSON.parse(holder.textContent);
    (data.charts || []).forEach(function (chart, index) {
      if (!chart.series || chart.series.length === 0) { return; } // the page shows the error
      const traces = chart.series.map(function (series) {
        return {
          type: "scatter", mode: "lines", name: series.name, x: series.t, y: series.v,
          connectgaps: false, line: { width: 1.5 },
        };
      });
      Plotly.react(slotFor(container, index), traces, layoutFor(data, chart), CONFIG);
    });
  }

  document.querySelectorAll("[data-incident-charts]").forEach(draw);
})();

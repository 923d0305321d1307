// Trace search: shows the custom from/to fields only for a custom range, and draws the found
// traces as a scatter of duration over start time (errors in red); a click opens the trace.
// The traces come from the <script type="application/json"> named by the chart's data-source.
(function () {
  "use strict";
  const OK_COLOUR = "#2f7dd1";
  const ERROR_COLOUR = "#b42318";
  const CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };

  function customRangeToggle(form) {
    const select = form.querySelector("select[name=range]");
    const custom = form.querySelector("[data-custom-range]");
    if (!select || !custom) { return; }
    const update = function () { custom.hidden = select.value !== "custom"; };
    select.addEventListener("change", update);
    update();
  }

  // Only the filters in use go into the URL: ?service=cart&range=1h, not ten empty fields.
  function shortUrlOnSubmit(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const params = new URLSearchParams();
      const customRange = form.querySelector("select[name=range]").value === "custom";
      new FormData(form).forEach(function (value, name) {
        if (value === "" || (!customRange && (name === "start" || name === "end"))) { return; }
        params.append(name, value);
      });
      window.location.assign(form.action + "?" + params.toString());
    });
  }

  function hover(trace) {
    const root = trace.root_service ? trace.root_service + ": " + trace.root_name : "(root span missing)";
    return root + "<br>" + trace.duration + " · " + trace.span_count + " spans" +
      (trace.error_count ? " · " + trace.error_count + " errors" : "") + "<br>" + trace.start + " UTC";
  }

  function series(traces, name, colour, symbol) {
    return {
      type: "scatter", mode: "markers", name: name,
      x: traces.map(function (t) { return t.start_iso; }),
      y: traces.map(function (t) { return t.duration_ms; }),
      customdata: traces.map(function (t) { return t.url; }),
      text: traces.map(hover),
      hovertemplate: "%{text}<extra></extra>",
      marker: { color: colour, size: 9, symbol: symbol, opacity: 0.85, line: { width: 1, color: "#fff" } },
    };
  }

  function drawScatter(chart) {
    const holder = document.getElementById(chart.dataset.source);
    if (!holder || typeof Plotly === "undefined") { return; }
    const traces = JSON.parse(holder.textContent).traces || [];
    const ok = traces.filter(function (t) { return !t.error_count; });
    const failed = traces.filter(function (t) { return t.error_count; });
    const data = [];
    if (ok.length) { data.push(series(ok, "without errors", OK_COLOUR, "circle")); }
    if (failed.length) { data.push(series(failed, "with errors", ERROR_COLOUR, "x")); }
    const layout = {
      margin: { l: 70, r: 20, t: 10, b: 40 }, height: 300,
      xaxis: { type: "date", hoverformat: "%Y-%m-%d %H:%M:%S.%L UTC" },
      yaxis: { title: { text: "duration (ms)" }, rangemode: "tozero" },
      showlegend: data.length > 1, legend: { orientation: "h", y: -0.2 },
      hovermode: "closest",
    };
    Plotly.react(chart, data, layout, CONFIG).then(function () {
      chart.on("plotly_click", function (event) {
        const point = event.points && event.points[0];
        if (point && point.customdata) { window.location.assign(point.customdata); }
      });
    });
  }

  const form = document.getElementById("trace-search-form");
  if (form) { customRangeToggle(form); shortUrlOnSubmit(form); }
  const chart = document.getElementById("trace-scatter");
  if (chart) { drawScatter(chart); }
})();

// Service pages: the service map (services placed in layers by call depth, arrows for calls,
// a click on a service opens its RED dashboard) and a service's RED dashboard (requests/s,
// errors/s, duration percentiles). Each reads the JSON its page put in the
// <script type="application/json"> named by the chart's data-source. Also shows the custom
// from/to fields of the range form only when the range is custom.
(function () {
  "use strict";
  const CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };
  const RED = "#b42318";
  const GREY = "#98a2b3";
  const ERROR_SCALE_MAX = 0.1; // 10 % of requests failing or more: full red
  // Hover texts use <br> only: plotly.js writes <b> and <i> as style attributes, which the
  // CSP blocks.

  function customRangeToggle() {
    const form = document.getElementById("range-form");
    if (!form) { return; }
    const select = form.querySelector("select[name=range]");
    const custom = form.querySelector("[data-custom-range]");
    if (!select || !custom) { return; }
    const update = function () { custom.hidden = select.value !== "custom"; };
    select.addEventListener("change", update);
    update();
  }

  function source(element) {
    const holder = document.getElementById(element.dataset.source);
    return holder ? JSON.parse(holder.textContent) : null;
  }

  function percentText(ratio) { return (Math.round(ratio * 10000) / 100) + " %"; }

  function rateText(rate) { return String(Number(rate.toPrecision(3))); }

  function drawMap(chart) {
    const data = source(chart);
    if (!data || typeof Plotly === "undefined") { return; }
    const nodes = data.nodes;
    const maxRequests = Math.max(1, ...nodes.map(function (node) { return node.requests; }));
    const sizes = nodes.map(function (node) { return 18 + 34 * Math.sqrt(node.requests / maxRequests); });
    const sizeOf = new Map(nodes.map(function (node, i) { return [node.service, sizes[i]]; }));
    const pairs = new Set(data.edges.map(function (edge) { return edge.client + "\u0000" + edge.server; }));

    const annotations = [];
    const mid = { x: [], y: [], text: [], color: [] };
    data.edges.forEach(function (edge) {
      const colour = edge.errors ? RED : GREY;
      annotations.push({
        x: edge.to[0], y: edge.to[1], ax: edge.from[0], ay: edge.from[1],
        xref: "x", yref: "y", axref: "x", ayref: "y", text: "", showarrow: true,
        arrowhead: 2, arrowsize: 1.2, arrowwidth: 1 + Math.min(4, Math.log10(1 + edge.requests)),
        arrowcolor: colour, standoff: sizeOf.get(edge.server) / 2 + 2,
        startstandoff: sizeOf.get(edge.client) / 2 + 2,
      });
      // Calls both ways between two services: move each label off the shared line.
      const reverse = pairs.has(edge.server + "\u0000" + edge.client);
      const shift = reverse ? (edge.client < edge.server ? 0.08 : -0.08) : 0;
      mid.x.push((edge.from[0] + edge.to[0]) / 2);
      mid.y.push((edge.from[1] + edge.to[1]) / 2 + shift);
      mid.color.push(colour);
      mid.text.push(
        edge.client + " → " + edge.server + "<br>" + edge.requests + " requests (" +
        rateText(edge.rate) + "/s), " + edge.errors + " errors (" + percentText(edge.error_rate) + ")" +
        "<br>p50 " + edge.p50_ms.toFixed(1) + " ms · p95 " + edge.p95_ms.toFixed(1) + " ms · p99 " +
        edge.p99_ms.toFixed(1) + " ms"
      );
    });

    const traces = [
      {
        type: "scatter", mode: "markers", name: "calls", x: mid.x, y: mid.y, text: mid.text,
        hovertemplate: "%{text}<extra></extra>", marker: { size: 8, color: mid.color, symbol: "diamond" },
      },
      {
        type: "scatter", mode: "markers+text", name: "services",
        x: nodes.map(function (node) { return node.x; }),
        y: nodes.map(function (node) { return node.y; }),
        text: nodes.map(function (node) { return node.service; }),
        textposition: "bottom center",
        customdata: nodes.map(function (node) { return node.url; }),
        hovertext: nodes.map(function (node) {
          return node.service + "<br>" + node.requests + " requests (" + rateText(node.rate) +
            "/s)<br>" + node.errors + " errors (" + percentText(node.error_rate) + ")<br>click for its dashboard";
        }),
        hovertemplate: "%{hovertext}<extra></extra>",
        marker: {
          size: sizes, color: nodes.map(function (node) { return node.error_rate; }),
          cmin: 0, cmax: ERROR_SCALE_MAX,
          colorscale: [[0, "#1a7f37"], [0.5, "#e6a700"], [1, RED]],
          // No colorbar: plotly.js draws its gradient with a style attribute, which the CSP
          // blocks. The page has the scale as HTML (.error-scale) instead.
          line: { width: 1, color: "#fff" },
        },
      },
    ];
    const layers = Math.max(0, ...nodes.map(function (node) { return node.x; }));
    const spread = Math.max(0.5, ...nodes.map(function (node) { return Math.abs(node.y); }));
    const layout = {
      margin: { l: 20, r: 20, t: 20, b: 20 }, height: 480, showlegend: false, hovermode: "closest",
      xaxis: { visible: false, range: [-0.5, layers + 0.5], fixedrange: true },
      yaxis: { visible: false, range: [-spread - 0.6, spread + 0.6], fixedrange: true },
      annotations: annotations,
    };
    Plotly.react(chart, traces, layout, CONFIG).then(function () {
      chart.on("plotly_click", function (event) {
        const point = event.points && event.points[0];
        if (point && point.customdata) { window.location.assign(point.customdata); }
      });
    });
  }

  function lines(times, named, colours) {
    return named.map(function (pair, i) {
      return {
        type: "scatter", mode: "lines", name: pair[0], x: times, y: pair[1],
        connectgaps: false, line: { width: 1.5, color: colours[i] },
      };
    });
  }

  function drawRed(container) {
    const data = source(container);
    if (!data || typeof Plotly === "undefined") { return; }
    const series = data.series;
    const charts = {
      requests: { traces: lines(data.times, [["requests/s", series.requests]], ["#2f7dd1"]), suffix: "/s" },
      errors: { traces: lines(data.times, [["errors/s", series.errors]], [RED]), suffix: "/s" },
      duration: {
        traces: lines(data.times, [["p50", series.p50], ["p95", series.p95], ["p99", series.p99]],
          ["#59a14f", "#f28e2b", RED]),
        suffix: " ms",
      },
    };
    container.querySelectorAll("[data-red-chart]").forEach(function (slot) {
      const chart = charts[slot.dataset.redChart];
      const empty = chart.traces.every(function (trace) {
        return trace.y.every(function (value) { return value === null; });
      });
      Plotly.react(slot, chart.traces, {
        annotations: empty ? [{
          text: "no data in this range", xref: "paper", yref: "paper", x: 0.5, y: 0.5,
          showarrow: false, font: { color: GREY },
        }] : [],
        margin: { l: 60, r: 20, t: 10, b: 40 }, height: 280,
        xaxis: { type: "date", hoverformat: "%Y-%m-%d %H:%M:%S UTC" },
        yaxis: { rangemode: "tozero", ticksuffix: chart.suffix },
        showlegend: chart.traces.length > 1, legend: { orientation: "h", y: -0.2 },
        hovermode: "x unified",
      }, CONFIG);
    });
  }

  customRangeToggle();
  const map = document.getElementById("service-map");
  if (map) { drawMap(map); }
  const red = document.getElementById("red-charts");
  if (red) { drawRed(red); }
})();

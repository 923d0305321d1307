// Alarm page: draws the figure the server built (expression, threshold, ALARM periods).
(function () {
  "use strict";
  const chart = document.getElementById("alarm-chart");
  if (!chart) { return; }
  fetch(chart.dataset.url, { credentials: "same-origin" })
    .then(function (response) { return response.json(); })
    .then(function (data) {
      if (data.error) { chart.textContent = data.error; return; }
      Plotly.react(chart, data.figure.data, data.figure.layout, { responsive: true, displaylogo: false, displayModeBar: false });
    });
})();

// SLO page: draws the three figures the server built (SLI, budget burn-down, burn rates).
(function () {
  "use strict";
  const holder = document.getElementById("slo-charts");
  if (!holder) { return; }
  const config = { responsive: true, displaylogo: false, displayModeBar: false };
  fetch(holder.dataset.url, { credentials: "same-origin" })
    .then(function (response) { return response.json(); })
    .then(function (data) {
      if (data.error) {
        const box = document.getElementById("slo-charts-error");
        box.textContent = data.error;
        box.hidden = false;
        // No empty frames under the message: the charts have nothing to draw.
        holder.querySelectorAll(".chart").forEach(function (chart) { chart.hidden = true; });
        return;
      }
      [["chart-sli", data.sli], ["chart-burn-down", data.burn_down], ["chart-burn-rates", data.burn_rates]]
        .forEach(function (pair) {
          Plotly.react(document.getElementById(pair[0]), pair[1].data, pair[1].layout, config);
        });
    });
})();

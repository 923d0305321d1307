// Metrics explorer: runs the query through the explorer's JSON endpoint, draws the Plotly
// figure the server built, fills the table, and keeps query and range in the URL.
(function () {
  "use strict";
  const form = document.getElementById("explorer-form");
  const queryInput = document.getElementById("query");
  const rangeSelect = document.getElementById("range");
  const customRange = document.getElementById("custom-range");
  const errorBox = document.getElementById("query-error");
  const summary = document.getElementById("summary");
  const chart = document.getElementById("chart");
  const table = document.getElementById("result-table");

  function toLocalInput(epochSeconds) {
    const date = new Date(epochSeconds * 1000);
    const offset = date.getTimezoneOffset() * 60000;
    return new Date(date.getTime() - offset).toISOString().slice(0, 19);
  }

  function fromLocalInput(value) {
    return value ? String(Math.floor(new Date(value).getTime() / 1000)) : "";
  }

  const startEpoch = document.getElementById("start-epoch");
  const endEpoch = document.getElementById("end-epoch");
  if (startEpoch.value) { document.getElementById("start").value = toLocalInput(Number(startEpoch.value)); }
  if (endEpoch.value) { document.getElementById("end").value = toLocalInput(Number(endEpoch.value)); }

  function params() {
    const result = new URLSearchParams();
    result.set("query", queryInput.value.trim());
    if (rangeSelect.value === "custom") {
      result.set("start", fromLocalInput(document.getElementById("start").value));
      result.set("end", fromLocalInput(document.getElementById("end").value));
    } else {
      result.set("range", rangeSelect.value);
    }
    return result;
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    summary.textContent = "";
    table.hidden = true;
    Plotly.purge(chart);
  }

  function run() {
    const query = params();
    history.replaceState(null, "", "?" + query.toString());
    if (!query.get("query")) { return; }
    fetch(form.dataset.dataUrl + "?" + query.toString(), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data.error) { showError(data.error); return; }
        errorBox.hidden = true;
        summary.textContent = data.series_count + " series" +
          (data.drawn < data.series_count ? " (" + data.drawn + " drawn)" : "") +
          ", one point every " + data.step_seconds + " s";
        Plotly.react(chart, data.figure.data, data.figure.layout, { responsive: true, displaylogo: false, displayModeBar: false });
        const body = table.querySelector("tbody");
        body.replaceChildren();
        data.table.forEach(function (row) {
          const tr = document.createElement("tr");
          const name = document.createElement("td");
          name.textContent = row.series;
          const value = document.createElement("td");
          value.className = "num";
          value.textContent = row.value === null ? "no value at the end" : row.value;
          tr.append(name, value);
          body.append(tr);
        });
        table.hidden = data.table.length === 0;
      })
      .catch(function (error) { showError("The query could not be run: " + error); });
  }

  // Autocompletion: the datalist offers whole queries, completing the word being typed with a
  // metric name, or with a label name inside {...}.
  let metricNames = [];
  let labelNames = [];

  function suggest() {
    const text = queryInput.value;
    const before = text.slice(0, queryInput.selectionStart || text.length);
    const word = (before.match(/[a-zA-Z_:][a-zA-Z0-9_:]*$/) || [""])[0];
    const head = before.slice(0, before.length - word.length);
    const insideBraces = /\{[^}]*$/.test(head);
    const candidates = insideBraces ? labelNames.filter(function (name) { return name !== "__name__"; }) : metricNames;
    const list = document.getElementById("metric-names");
    list.replaceChildren();
    candidates
      .filter(function (name) { return name.startsWith(word); })
      .slice(0, 50)
      .forEach(function (name) {
        const option = document.createElement("option");
        option.value = head + name + (insideBraces ? '="' : "");
        list.append(option);
      });
  }

  function loadNames() {
    fetch(form.dataset.namesUrl, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) { metricNames = data.data || []; suggest(); });
    fetch(form.dataset.labelsUrl, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        labelNames = data.data || [];
        document.getElementById("label-names").textContent = labelNames.join(", ");
      });
  }

  rangeSelect.addEventListener("change", function () {
    customRange.hidden = rangeSelect.value !== "custom";
    if (rangeSelect.value !== "custom") { run(); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run();
  });
  queryInput.addEventListener("input", suggest);
  loadNames();
  run();
})();

// Trace page: the waterfall of every span and the panel of the span clicked.
// The trace (metrics.traces.queries.waterfall, rows parent-first) comes from the
// <script type="application/json"> named by #waterfall's data-source. Rows are plain DOM built
// in one pass into a DocumentFragment, so thousands of spans draw at once; bars are placed with
// CSSOM (element.style), which the CSP allows, never with a style attribute in the markup.
// Absolute Unix nanoseconds are never used here: JavaScript numbers lose them past 2**53, so
// every time is an offset from the trace's start.
(function () {
  "use strict";
  const PALETTE_SIZE = 12;
  const INDENT_PX = 12;
  const MAX_INDENT_LEVELS = 40;
  const TICKS = 5;
  const KIND_NAMES = ["unspecified", "internal", "server", "client", "producer", "consumer"];

  const section = document.getElementById("waterfall");
  if (!section) { return; }
  const holder = document.getElementById(section.dataset.source);
  if (!holder) { return; }
  const trace = JSON.parse(holder.textContent);
  const rows = trace.rows || [];
  const total = Math.max(Number(trace.duration_ns) || 0, 1);
  const serviceIndex = new Map((trace.services || []).map(function (name, i) { return [name, i]; }));
  const body = document.getElementById("wf-body");
  const panelEmpty = document.getElementById("span-panel-empty");
  const panelContent = document.getElementById("span-panel-content");
  const elements = new Array(rows.length);
  const collapsed = new Uint8Array(rows.length);
  let selected = -1;

  function formatDuration(ns) {
    const value = Math.abs(ns);
    const sign = ns < 0 ? "-" : "";
    if (value < 1000) { return sign + Math.round(value) + " ns"; }
    if (value < 60e9) {
      const units = [["µs", 1e3], ["ms", 1e6], ["s", 1e9]];
      for (let i = 0; i < units.length; i++) {
        const amount = value / units[i][1];
        if (amount < 1000 || units[i][0] === "s") {
          const decimals = amount >= 100 ? 0 : amount >= 10 ? 1 : 2;
          return sign + String(Number(amount.toFixed(decimals))) + " " + units[i][0];
        }
      }
    }
    const seconds = Math.round(value / 1e9);
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) { return sign + minutes + " m " + (seconds % 60) + " s"; }
    return sign + Math.floor(minutes / 60) + " h " + (minutes % 60) + " m";
  }

  function percent(ns) { return Math.min(100, Math.max(0, (ns / total) * 100)); }

  function serviceClass(service) {
    const index = serviceIndex.has(service) ? serviceIndex.get(service) : 0;
    return "svc-" + (index % PALETTE_SIZE);
  }

  function kindName(kind) {
    if (typeof kind === "number") { return KIND_NAMES[kind] || String(kind); }
    return String(kind || "").replace(/^SPAN_KIND_/, "").toLowerCase();
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function badge(text, kind, title) {
    const node = element("span", "badge " + kind, text);
    if (title) { node.title = title; }
    return node;
  }

  function hasChildren(index) {
    return index + 1 < rows.length && rows[index + 1].depth > rows[index].depth;
  }

  function buildRow(row, index) {
    const item = element("div", "wf-row");
    item.setAttribute("role", "listitem");
    item.tabIndex = 0;
    item.dataset.index = String(index);
    item.dataset.spanId = row.span_id;
    if (row.error) { item.classList.add("wf-error"); }
    if (row.critical) { item.classList.add("wf-critical"); }

    const label = element("div", "wf-label");
    label.style.paddingLeft = (Math.min(row.depth, MAX_INDENT_LEVELS) * INDENT_PX + 4) + "px";
    if (hasChildren(index)) {
      const toggle = element("button", "wf-toggle", "▾");
      toggle.type = "button";
      toggle.setAttribute("aria-expanded", "true");
      toggle.setAttribute("aria-label", "Hide the children of this span");
      label.appendChild(toggle);
    } else {
      label.appendChild(element("span", "wf-toggle-space"));
    }
    label.appendChild(element("span", "wf-service " + serviceClass(row.service), row.service));
    label.appendChild(element("span", "wf-name", row.name));
    if (row.error) { label.appendChild(badge("error", "badge-error", row.status_message || "status ERROR")); }
    if (row.missing_parent) {
      label.appendChild(badge("missing parent", "badge-warn", "Parent " + row.parent_span_id + " is not stored"));
    }
    if (row.skew_ns) {
      label.appendChild(badge("skew " + formatDuration(row.skew_ns), "badge-skew",
        "Starts before its parent or ends after it: the hosts' clocks disagree"));
    }
    label.title = row.service + ": " + row.name + " (depth " + row.depth + ")";

    const duration = element("div", "wf-dur", formatDuration(row.duration_ns));
    const track = element("div", "wf-track");
    const bar = element("div", "wf-bar " + serviceClass(row.service));
    bar.style.left = percent(row.start_offset_ns) + "%";
    bar.style.width = percent(row.duration_ns) + "%";
    track.appendChild(bar);
    item.append(label, duration, track);
    return item;
  }

  function drawAxis() {
    const axis = document.getElementById("wf-axis");
    if (!axis) { return; }
    const fragment = document.createDocumentFragment();
    for (let i = 0; i < TICKS; i++) {
      const share = i / (TICKS - 1);
      const tick = element("span", "wf-tick" + (i === TICKS - 1 ? " wf-tick-last" : ""),
        formatDuration(total * share));
      tick.style.left = (share * 100) + "%";
      fragment.appendChild(tick);
    }
    axis.replaceChildren(fragment);
  }

  function drawRows() {
    const fragment = document.createDocumentFragment();
    for (let i = 0; i < rows.length; i++) {
      elements[i] = buildRow(rows[i], i);
      fragment.appendChild(elements[i]);
    }
    body.replaceChildren(fragment);
    body.dataset.drawn = String(rows.length);
  }

  function subtreeEnd(index) {
    let end = index + 1;
    while (end < rows.length && rows[end].depth > rows[index].depth) { end++; }
    return end;
  }

  // Hiding a span's children hides its whole subtree; showing them again keeps the subtrees
  // of descendants that are themselves collapsed hidden.
  function toggleChildren(index) {
    collapsed[index] = collapsed[index] ? 0 : 1;
    const button = elements[index].querySelector(".wf-toggle");
    button.textContent = collapsed[index] ? "▸" : "▾";
    button.setAttribute("aria-expanded", collapsed[index] ? "false" : "true");
    button.setAttribute("aria-label", (collapsed[index] ? "Show" : "Hide") + " the children of this span");
    const end = subtreeEnd(index);
    let i = index + 1;
    while (i < end) {
      elements[i].hidden = Boolean(collapsed[index]);
      if (!collapsed[index] && collapsed[i]) {
        const inner = subtreeEnd(i);
        for (let j = i + 1; j < inner; j++) { elements[j].hidden = true; }
        i = inner;
      } else {
        i++;
      }
    }
  }

  function table(pairs) {
    const keys = Object.keys(pairs || {}).sort();
    if (keys.length === 0) { return element("p", "empty", "None."); }
    const result = element("table", "table span-attributes");
    const tbody = element("tbody");
    keys.forEach(function (key) {
      const value = pairs[key];
      const tr = element("tr");
      tr.append(element("th", "", key),
        element("td", "", typeof value === "string" ? value : JSON.stringify(value)));
      tbody.appendChild(tr);
    });
    result.appendChild(tbody);
    return result;
  }

  function fact(list, term, value) {
    list.append(element("dt", "", term), element("dd", "", value));
  }

  function showSpan(index) {
    const row = rows[index];
    if (selected >= 0) { elements[selected].classList.remove("wf-selected"); }
    selected = index;
    elements[index].classList.add("wf-selected");

    const content = document.createDocumentFragment();
    const title = element("h2", "", row.service + ": " + row.name);
    content.appendChild(title);
    const facts = element("dl", "facts span-facts");
    fact(facts, "Span id", row.span_id);
    fact(facts, "Parent", row.parent_span_id
      ? row.parent_span_id + (row.missing_parent ? " (not stored)" : "") : "none (root)");
    fact(facts, "Kind", kindName(row.kind));
    fact(facts, "Starts at", "+" + formatDuration(row.start_offset_ns));
    fact(facts, "Duration", formatDuration(row.duration_ns));
    fact(facts, "Status", row.error ? "error" + (row.status_message ? ": " + row.status_message : "") : "ok");
    fact(facts, "Critical path", row.critical ? "yes" : "no");
    if (row.skew_ns) { fact(facts, "Clock skew", formatDuration(row.skew_ns)); }
    content.appendChild(facts);

    content.appendChild(element("h3", "", "Attributes"));
    content.appendChild(table(row.attributes));

    content.appendChild(element("h3", "", "Events"));
    const events = row.events || [];
    if (events.length === 0) { content.appendChild(element("p", "empty", "None.")); }
    events.forEach(function (event) {
      const box = element("div", "span-event");
      box.appendChild(element("p", "", "+" + formatDuration(event.offset_ns || 0) + " " + (event.name || "(unnamed)")));
      if (event.attributes && Object.keys(event.attributes).length) { box.appendChild(table(event.attributes)); }
      content.appendChild(box);
    });

    content.appendChild(element("h3", "", "Links"));
    const links = row.links || [];
    if (links.length === 0) { content.appendChild(element("p", "empty", "None.")); }
    links.forEach(function (link) {
      const box = element("div", "span-link");
      const anchor = element("a", "", "trace " + link.trace_id + ", span " + link.span_id);
      anchor.href = trace.trace_url_template.replace("0".repeat(32), link.trace_id) + "#span-" + link.span_id;
      box.appendChild(anchor);
      if (link.attributes && Object.keys(link.attributes).length) { box.appendChild(table(link.attributes)); }
      content.appendChild(box);
    });

    content.appendChild(element("h3", "", "Resource"));
    content.appendChild(table(row.resource));

    panelContent.replaceChildren(content);
    panelContent.hidden = false;
    panelEmpty.hidden = true;
    history.replaceState(null, "", "#span-" + row.span_id);
  }

  function rowIndexOf(target) {
    const row = target.closest(".wf-row");
    return row ? Number(row.dataset.index) : -1;
  }

  body.addEventListener("click", function (event) {
    const index = rowIndexOf(event.target);
    if (index < 0) { return; }
    if (event.target.closest(".wf-toggle")) { toggleChildren(index); return; }
    showSpan(index);
  });
  body.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== " ") { return; }
    if (event.target.closest(".wf-toggle")) { return; } // the button clicks itself
    const index = rowIndexOf(event.target);
    if (index >= 0) { event.preventDefault(); showSpan(index); }
  });

  document.querySelectorAll("[data-service-index]").forEach(function (swatch) {
    swatch.classList.add("svc-" + (Number(swatch.dataset.serviceIndex) % PALETTE_SIZE));
  });
  drawAxis();
  drawRows();

  const wanted = /^#span-([0-9a-f]{16})$/.exec(window.location.hash);
  if (wanted) {
    const index = rows.findIndex(function (row) { return row.span_id === wanted[1]; });
    if (index >= 0) { showSpan(index); elements[index].scrollIntoView({ block: "center" }); }
  }
})();

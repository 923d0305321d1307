// COE editor: live Markdown preview (rendered and sanitised by the server), and a local copy of
// every form's unsaved input, so text survives a closed tab or an expired session.
//
// A copy is dropped only when the page shows that its save went through (the "Saved." message
// for that form). Otherwise, on the next visit, it is put back if the field has not changed on
// the server since; if it has, the editor offers it instead of overwriting the newer text, and a
// save then goes through the server's conflict check (it names the version the copy was made on).
(function () {
  "use strict";
  var editor = document.querySelector(".coe-editor");
  if (!editor) return;
  var previewUrl = editor.getAttribute("data-preview-url");
  var csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
  var saved = document.querySelector(".messages .success") !== null;

  function key(form) { return "coe-portal:" + form.getAttribute("data-autosave-key"); }

  function inputs(form) {
    return Array.prototype.filter.call(
      form.querySelectorAll("textarea, input, select"),
      function (el) { return ["hidden", "submit", "button"].indexOf(el.type) < 0; }
    );
  }

  function values(form) {
    return inputs(form).map(function (el) {
      if (el.multiple) {
        return Array.prototype.filter.call(el.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; }).join("\u0000");
      }
      return el.value;
    });
  }

  function apply(form, list) {
    inputs(form).forEach(function (el, index) {
      if (index >= list.length) return;
      if (el.multiple) {
        var chosen = list[index].split("\u0000");
        Array.prototype.forEach.call(el.options, function (o) {
          o.selected = chosen.indexOf(o.value) >= 0;
        });
      } else {
        el.value = list[index];
      }
    });
  }

  function read(form) {
    try { return JSON.parse(window.localStorage.getItem(key(form)) || "null"); }
    catch (err) { return null; }
  }

  function write(form, copy) {
    try { window.localStorage.setItem(key(form), JSON.stringify(copy)); }
    catch (err) { /* storage full or disabled: the form still works */ }
  }

  function drop(form) {
    try { window.localStorage.removeItem(key(form)); } catch (err) { /* ignore */ }
  }

  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function note(form, text) {
    var el = form.querySelector(".autosave-note");
    if (!el) {
      el = document.createElement("p");
      el.className = "autosave-note help";
      form.insertBefore(el, form.querySelector("button[type=submit]"));
    }
    el.textContent = text;
    el.hidden = false;
    return el;
  }

  function preview(textarea) {
    var target = document.getElementById(textarea.getAttribute("data-preview"));
    if (!target || !previewUrl) return;
    var body = new URLSearchParams();
    body.set("text", textarea.value);
    fetch(previewUrl, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Accept": "application/json" }
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (data) target.innerHTML = data.html;  // sanitised by the server (nh3)
    }).catch(function () { /* offline: the preview waits */ });
  }

  document.querySelectorAll("form[data-autosave-key]").forEach(function (form) {
    var version = form.getAttribute("data-version");
    var copy = read(form);
    if (copy) {
      var current = values(form);
      if (same(copy.values, current) || (copy.submitted && saved && location.hash === "#" + form.id)) {
        drop(form);
      } else if (copy.version === version) {
        apply(form, copy.values);
        form.classList.add("unsaved");
        note(form, "Restored what you had not saved (" + copy.at + "). Save it, or edit it.");
      } else {
        form.classList.add("unsaved");
        var offer = note(form, "You have unsaved text from " + copy.at + ", written before " +
          "someone else changed this. ");
        var use = document.createElement("button");
        use.type = "button";
        use.textContent = "Use my text";
        use.addEventListener("click", function () {
          apply(form, copy.values);
          var field = form.querySelector("input[name=version]");
          if (field) field.value = copy.version;  // the save will show both versions
          offer.textContent = "Your text is back; saving shows both versions to merge.";
        });
        offer.appendChild(use);
      }
    }
    form.addEventListener("input", function () {
      write(form, { values: values(form), version: version, at: new Date().toISOString() });
      form.classList.add("unsaved");
    });
    form.addEventListener("change", function () {
      write(form, { values: values(form), version: version, at: new Date().toISOString() });
    });
    form.addEventListener("submit", function () {
      var pending = read(form);
      if (pending) { pending.submitted = true; write(form, pending); }
    });
  });

  document.querySelectorAll("textarea[data-preview]").forEach(function (textarea) {
    var timer = null;
    textarea.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { preview(textarea); }, 300);
    });
    if (textarea.value) preview(textarea);
  });
})();

// COE editor: live Markdown preview (rendered and sanitised by the server), and a local copy of
// every unsaved field, so text survives a closed tab or an expired session: the next load of the
// editor puts it back and says so. Once the saved text matches the copy, the copy is dropped.
(function () {
  "use strict";
  var editor = document.querySelector(".coe-editor");
  if (!editor) return;
  var previewUrl = editor.getAttribute("data-preview-url");
  var csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";

  function storageKey(form) {
    return "coe-portal:" + form.getAttribute("data-autosave-key");
  }

  function readCopy(form) {
    try {
      return JSON.parse(window.localStorage.getItem(storageKey(form)) || "null");
    } catch (err) {
      return null;
    }
  }

  function writeCopy(form, text) {
    try {
      window.localStorage.setItem(storageKey(form), JSON.stringify({
        text: text, version: form.getAttribute("data-version"), at: new Date().toISOString()
      }));
    } catch (err) { /* storage full or disabled: the form still works */ }
  }

  function dropCopy(form) {
    try { window.localStorage.removeItem(storageKey(form)); } catch (err) { /* ignore */ }
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
    var textarea = form.querySelector("textarea");
    var note = form.querySelector(".autosave-note");
    var copy = readCopy(form);
    if (copy && copy.text !== textarea.value) {
      textarea.value = copy.text;
      // Save against the version this text was written on: if the field moved on since, the
      // server shows both versions instead of overwriting the newer one.
      var version = form.querySelector("input[name=version]");
      if (version && copy.version !== null) version.value = copy.version;
      if (note) {
        note.textContent = "Restored text you had not saved (" + copy.at + "). Save it or edit it.";
        note.hidden = false;
      }
      form.classList.add("unsaved");
    } else if (copy) {
      dropCopy(form);  // the saved text already matches
    }
    var timer = null;
    textarea.addEventListener("input", function () {
      writeCopy(form, textarea.value);
      form.classList.add("unsaved");
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { preview(textarea); }, 300);
    });
    textarea.addEventListener("focus", function () { preview(textarea); }, { once: true });
    if (textarea.value) preview(textarea);
  });

})();

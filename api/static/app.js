/* onething pages: small vanilla helpers, no build step.
   - data-show-when: fields and materials asked only on some answers appear and disappear;
   - data-check-url: inline validation by the server's own validator (same messages);
   - data-upload-url: uploads with progress, the material id kept in a hidden input;
   - data-preview: a form shown for preview only never submits;
   - the site menu folds behind its button on phones; every table scrolls in a .table-wrap;
   - details[data-open-wide] start open on wide screens (the case diagram; diagram.js fits a
     diagram drawn while folded when it opens);
   - input[data-filter]: filters the cards of a list as one types (a sent ?q= is ranked by the server).
   No inline script or event handler anywhere: the pages' CSP allows scripts from /static only. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var lang = document.documentElement.lang === "en" ? "en" : "zh";
  function t(zh, en) { return lang === "zh" ? zh : en; }

  function formValues(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.type === "file") return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) {
        if (el.type === "checkbox" && !(el.name in values)) values[el.name] = false;
        return;
      }
      var value = el.value;
      if (el.type === "checkbox") value = true;
      else if (value === "true") value = true;
      else if (value === "false") value = false;
      values[el.name] = value;
    });
    return values;
  }

  function same(a, b) {
    if (typeof a === "boolean" || typeof b === "boolean") return a === b;
    if (typeof b === "number") return Number(a) === b && a !== "";
    return String(a) === String(b);
  }

  function applyConditions(form) {
    var values = formValues(form);
    form.querySelectorAll("[data-show-when]").forEach(function (box) {
      var rule;
      try { rule = JSON.parse(box.getAttribute("data-show-when")); } catch (e) { return; }
      var show = Object.keys(rule).every(function (name) {
        var allowed = Array.isArray(rule[name]) ? rule[name] : [rule[name]];
        return name in values && allowed.some(function (v) { return same(values[name], v); });
      });
      if (box.hidden === !show) return;
      box.hidden = !show;
      box.querySelectorAll("input, select, textarea, button").forEach(function (el) { el.disabled = !show; });
    });
  }

  function fieldBox(form, name) {
    return form.querySelector('[data-field="' + CSS.escape(name) + '"]');
  }

  /* The same words, in the same shape, as the server's form macros: the page's language
     first, the other beside it (so an inline message and a submitted one read alike). */
  function fillMessages(err, problems) {
    err.textContent = "";
    problems.forEach(function (p) {
      var first = lang === "en" ? (p.message_en || p.message) : p.message;
      var other = lang === "en" ? p.message : p.message_en;
      var line = document.createElement("p");
      var main = document.createElement("span");
      main.lang = lang;
      main.textContent = first;
      line.appendChild(main);
      if (other) {
        var alt = document.createElement("span");
        alt.className = "alt";
        alt.lang = lang === "en" ? "zh" : "en";
        alt.textContent = other;
        line.appendChild(document.createTextNode(" "));
        line.appendChild(alt);
      }
      err.appendChild(line);
    });
  }

  function showProblem(form, name, problems) {
    var box = fieldBox(form, name);
    if (!box) return false;
    var err = box.querySelector(".field-error");
    if (!err) {
      err = document.createElement("div");
      err.className = "field-error";
      err.id = "f-" + name + "-error";
      err.setAttribute("role", "alert");
      box.appendChild(err);
    }
    var any = problems && problems.length > 0;
    fillMessages(err, any ? problems : []);
    err.hidden = !any;
    box.querySelectorAll("input, select, textarea").forEach(function (el) {
      if (el.type === "hidden") return;
      if (any) el.setAttribute("aria-invalid", "true"); else el.removeAttribute("aria-invalid");
      var ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
      if (ids.indexOf(err.id) < 0) { ids.push(err.id); el.setAttribute("aria-describedby", ids.join(" ")); }
    });
    return true;
  }

  function setupChecks(form) {
    var url = form.getAttribute("data-check-url");
    if (!url) return;
    var touched = {};
    var timer = null;
    function run() {
      var body = new URLSearchParams(new FormData(form));
      fetch(url, { method: "POST", body: body, credentials: "same-origin",
                   headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (!answer) return;
          var byField = {};
          (answer.problems || []).forEach(function (p) { (byField[p.where] = byField[p.where] || []).push(p); });
          Object.keys(touched).forEach(function (name) { showProblem(form, name, byField[name] || []); });
        })
        .catch(function () { /* the server checks again on submit */ });
    }
    function changed(ev) {
      var el = ev.target;
      if (!el.name || el.type === "file" || el.type === "hidden") return;
      var box = el.closest("[data-field]");
      if (box) touched[box.getAttribute("data-field")] = true;
      clearTimeout(timer);
      timer = setTimeout(run, 350);
    }
    form.addEventListener("change", changed);
    form.addEventListener("focusout", changed);
  }

  function humanSize(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  function setupUpload(input) {
    var url = input.getAttribute("data-upload-url");
    var kind = input.getAttribute("data-kind");
    var box = input.closest("[data-material]") || input.parentNode;
    var bar = box.querySelector("progress");
    var status = box.querySelector(".upload-status");
    var hidden = box.querySelector('input[type="hidden"][data-material-id]');
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) return;
      var data = new FormData();
      data.append("kind", kind);
      data.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      if (bar) { bar.hidden = false; bar.value = 0; bar.max = 100; }
      status.textContent = t("正在上传 ", "Uploading ") + file.name + "…";
      box.setAttribute("aria-busy", "true");
      xhr.upload.addEventListener("progress", function (ev) {
        if (ev.lengthComputable && bar) bar.value = Math.round(ev.loaded * 100 / ev.total);
      });
      xhr.addEventListener("load", function () {
        box.removeAttribute("aria-busy");
        var answer = null;
        try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
        if (xhr.status >= 200 && xhr.status < 300 && answer && answer.id) {
          if (bar) bar.value = 100;
          hidden.value = answer.id;
          status.textContent = "✓ " + t("已上传：", "Uploaded: ") + (answer.filename || file.name) + " (" + humanSize(answer.size) + ")";
          status.className = "upload-status ok";
          box.setAttribute("data-uploaded", "true");
          showProblem(input.form, kind, []);
        } else {
          var message = answer && answer.detail ? (typeof answer.detail === "string" ? answer.detail :
            answer.detail.map(function (p) { return lang === "en" && p.message_en ? p.message_en : p.message; }).join("；"))
            : t("上传失败，请重试。", "Upload failed; try again.");
          status.textContent = "⚠ " + message;
          status.className = "upload-status error-text";
          if (bar) bar.hidden = true;
        }
      });
      xhr.addEventListener("error", function () {
        box.removeAttribute("aria-busy");
        status.textContent = "⚠ " + t("网络错误，上传失败。", "Network error; the upload failed.");
        if (bar) bar.hidden = true;
      });
      xhr.send(data);
    });
  }

  function setupOverdueSort(table) {
    var button = table.querySelector("[data-sort-due]");
    if (!button) return;
    button.addEventListener("click", function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var desc = button.getAttribute("data-order") !== "desc";
      rows.sort(function (a, b) {
        var x = a.getAttribute("data-due") || "9999", y = b.getAttribute("data-due") || "9999";
        return desc ? (x < y ? 1 : x > y ? -1 : 0) : (x < y ? -1 : x > y ? 1 : 0);
      });
      rows.forEach(function (r) { body.appendChild(r); });
      button.setAttribute("data-order", desc ? "desc" : "asc");
      var th = button.closest("th");
      if (th) th.setAttribute("aria-sort", desc ? "descending" : "ascending");
    });
  }

  /* Runs as soon as the page is parsed (this script is deferred), before DOMContentLoaded,
     so a folded diagram is opened before diagram.js draws it. */
  document.documentElement.classList.add("js");
  var WIDE = window.matchMedia("(min-width: 769px)");

  function setupMenu(button) {
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
      if (open) { var first = menu.querySelector("a, button"); if (first) first.focus(); }
    });
    menu.addEventListener("keydown", function (ev) {
      if (ev.key !== "Escape" || button.getAttribute("aria-expanded") !== "true") return;
      button.click();
      button.focus();
    });
  }

  function wrapTable(table) {
    if (table.parentNode.classList && table.parentNode.classList.contains("table-wrap")) return;
    var wrap = document.createElement("div");
    wrap.className = "table-wrap";
    table.parentNode.insertBefore(wrap, table);
    wrap.appendChild(table);
  }

  function setupFoldedDiagram(details) {
    // diagram.js fits the diagram when the details opens; here it only starts open where wide.
    if (details.hasAttribute("data-open-wide") && WIDE.matches) details.open = true;
  }

  function setupFilter(input) {
    var list = document.getElementById(input.getAttribute("data-filter"));
    var count = document.getElementById(input.getAttribute("data-filter-count"));
    if (!list) return;
    function apply() {
      var words = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      var cards = list.querySelectorAll("[data-search]");
      cards.forEach(function (card) {
        var text = card.getAttribute("data-search").toLowerCase();
        var match = words.every(function (w) { return text.indexOf(w) >= 0; });
        card.hidden = !match;
        if (match) shown += 1;
      });
      // A question in plain words ("我想开一家小饭馆") is in no card's text: keep every card and
      // point to the search button, which ranks by meaning on the server (智能导办).
      var asking = words.length > 0 && shown === 0;
      if (asking) cards.forEach(function (card) { card.hidden = false; });
      list.querySelectorAll("[data-group]").forEach(function (group) {
        group.hidden = !group.querySelector("[data-search]:not([hidden])");
      });
      if (count) {
        count.textContent = asking
          ? t("没有名称含这些字的事项，点“搜索”按意思查找", "No service has these words; press Search to find it by meaning")
          : t("共 " + shown + " 项", shown + (shown === 1 ? " service" : " services"));
      }
    }
    input.addEventListener("input", apply);
    if (input.value) apply();
  }

  document.querySelectorAll(".menu-toggle[aria-controls]").forEach(setupMenu);
  document.querySelectorAll("main table").forEach(wrapTable);
  document.querySelectorAll("details.diagram-details").forEach(setupFoldedDiagram);

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-filter]").forEach(setupFilter);
    document.querySelectorAll("form").forEach(function (form) {
      if (form.hasAttribute("data-preview")) {
        form.addEventListener("submit", function (event) { event.preventDefault(); });
      }
      if (form.querySelector("[data-show-when]")) {
        applyConditions(form);
        form.addEventListener("change", function () { applyConditions(form); });
        form.addEventListener("input", function () { applyConditions(form); });
      }
      setupChecks(form);
    });
    document.querySelectorAll("input[type=file][data-upload-url]").forEach(setupUpload);
    document.querySelectorAll("table[data-sortable]").forEach(setupOverdueSort);
    var firstError = document.querySelector("[data-focus-first]");
    if (firstError) firstError.focus();
  });
})();

/* The application page (/apply/{key}): the server's checks on leaving a field, and the draft
   saved as the applicant types.
   - data-apply-check: on leaving a field (and on change) the answers so far go to the server's
     validator; each touched field shows the server's message under it (aria-invalid and
     aria-describedby), in the page's language only. The form has novalidate: the browser never
     speaks for the server. Submitting re-renders the page with every problem listed at the top.
   - select[data-grouped] (the division tree): a first select narrows the places to one
     province, so nobody scrolls through every district of the country (or types a code).
   - data-draft-url: 1.5 s after the last change, after an upload, and when the page is hidden,
     the form (without files; uploads are already stored, their ids in hidden inputs) is saved
     as the applicant's draft; a quiet status says when (aria-live polite).
   No inline script anywhere: the pages' CSP allows scripts from /static only. */
(function () {
  "use strict";
  var SAVE_AFTER_MS = 1500;
  var CHECK_AFTER_MS = 250;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var lang = document.documentElement.lang === "en" ? "en" : "zh";
  function t(zh, en) { return lang === "zh" ? zh : en; }

  function body(form) {
    var data = new URLSearchParams();
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.type === "file" || el.type === "submit") return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      data.append(el.name, el.value);
    });
    return data;
  }

  function post(url, form, keepalive) {
    return fetch(url, {
      method: "POST", body: body(form), credentials: "same-origin", keepalive: !!keepalive,
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
    });
  }

  /* --- the server's checks, next to each field ------------------------------------------ */

  function fieldBox(form, name) {
    return form.querySelector('[data-field="' + CSS.escape(name) + '"]');
  }

  function showProblems(form, name, problems) {
    var box = fieldBox(form, name);
    if (!box) return;
    var id = "f-" + name + "-error";
    var err = box.querySelector(".field-error");
    if (!err && problems.length) {
      err = document.createElement("div");
      err.className = "field-error";
      err.id = id;
      err.setAttribute("aria-live", "polite");  // said once the applicant has moved on, not over them
      box.appendChild(err);
    }
    if (err) {
      err.textContent = "";
      problems.forEach(function (p) {
        var line = document.createElement("p");
        line.textContent = lang === "en" && p.message_en ? p.message_en : p.message;
        err.appendChild(line);
      });
      err.hidden = problems.length === 0;
    }
    box.classList.toggle("field-invalid", problems.length > 0);
    box.querySelectorAll("input, select, textarea, fieldset").forEach(function (el) {
      if (el.type === "hidden" || el.type === "file") return;
      var ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
      ids = ids.filter(function (x) { return x !== id; });
      if (problems.length) {
        el.setAttribute("aria-invalid", "true");
        ids.unshift(id);
      } else {
        el.removeAttribute("aria-invalid");
      }
      if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
      else el.removeAttribute("aria-describedby");
    });
  }

  function setupChecks(form) {
    var url = form.getAttribute("data-apply-check");
    if (!url) return;
    var touched = {};
    var timer = null;
    var asked = 0;
    function run() {
      var mine = ++asked;
      post(url, form)
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) {
          if (!answer || mine !== asked) return;  // a later check is on its way
          var byField = {};
          (answer.problems || []).forEach(function (p) {
            if (p.kind === "material") return;  // materials speak on upload and on submit
            (byField[p.where] = byField[p.where] || []).push(p);
          });
          Object.keys(touched).forEach(function (name) { showProblems(form, name, byField[name] || []); });
        })
        .catch(function () { /* the server checks everything again on submit */ });
    }
    function left(ev) {
      var el = ev.target;
      if (!el.name || el.type === "file" || el.type === "hidden") return;
      var box = el.closest("[data-field]");
      if (!box || box.hasAttribute("data-material")) return;
      if (ev.type === "focusout" && box.contains(ev.relatedTarget)) return;  // still inside (radios)
      touched[box.getAttribute("data-field")] = true;
      clearTimeout(timer);
      timer = setTimeout(run, CHECK_AFTER_MS);
    }
    form.addEventListener("change", left);
    form.addEventListener("focusout", left);
  }

  /* --- the draft, saved as the applicant types ----------------------------------------- */

  function setupDraft(form) {
    var url = form.getAttribute("data-draft-url");
    var status = document.getElementById("draft-status");
    if (!url || !status) return;
    var dirty = false;
    var timer = null;
    var saving = false;
    var stopped = false;
    function say(text) { status.textContent = text; }
    function save() {
      clearTimeout(timer);
      timer = null;
      if (!dirty || saving || stopped) return;
      dirty = false;
      saving = true;
      say(t("正在保存草稿…", "Saving the draft…"));
      post(url, form)
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (answer) {
          say(t("已自动保存 · ", "Saved automatically · ") + answer.saved_at);
          form.setAttribute("data-draft-saved", answer.updated_at);
        })
        .catch(function () {
          dirty = true;
          say(t("草稿未能保存，请检查网络；提交前内容仍在本页。", "The draft could not be saved; check your connection. Your answers are still on this page."));
        })
        .then(function () {
          saving = false;
          if (dirty && !timer) timer = setTimeout(save, SAVE_AFTER_MS);
        });
    }
    function changed(ev) {
      var el = ev.target;
      if (!el || !el.name || el.type === "file") return;
      dirty = true;
      clearTimeout(timer);
      timer = setTimeout(save, SAVE_AFTER_MS);
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    // An upload fills its hidden id input from a script (no event): watch for its mark.
    var watcher = new MutationObserver(function (records) {
      records.forEach(function (r) {
        if (r.attributeName === "data-uploaded" && r.target.getAttribute("data-uploaded") === "true") {
          dirty = true;
          clearTimeout(timer);
          timer = setTimeout(save, SAVE_AFTER_MS);
        }
      });
    });
    form.querySelectorAll("[data-material]").forEach(function (box) {
      watcher.observe(box, { attributes: true, attributeFilter: ["data-uploaded"] });
    });
    // 清空重填 discards the draft: nothing typed since may bring it back as the page goes.
    document.querySelectorAll("form.draft-discard").forEach(function (discard) {
      discard.addEventListener("submit", function () {
        dirty = false;
        clearTimeout(timer);
        timer = null;
        stopped = true;  // no save starts after this
      });
    });
    function flush() {
      if (!dirty || stopped) return;
      dirty = false;
      clearTimeout(timer);
      try { post(url, form, true).catch(function () {}); } catch (e) { /* leaving anyway */ }
    }
    window.addEventListener("pagehide", flush);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") flush();
    });
  }

  /* --- a grouped select (the division tree) as two steps: the province, then the place --- */

  function setupGroupedSelect(select) {
    var groups = Array.prototype.slice.call(select.querySelectorAll("optgroup"));
    if (groups.length < 2) return;  // one province: nothing to narrow
    var all = Array.prototype.slice.call(select.children).map(function (n) { return n.cloneNode(true); });
    var label = document.querySelector('label[for="' + CSS.escape(select.id) + '"]');
    var box = document.createElement("div");
    box.className = "field-step";
    var stepLabel = document.createElement("label");
    stepLabel.htmlFor = select.id + "-group";
    stepLabel.textContent = t("所在省（自治区、直辖市）", "Province or municipality");
    var step = document.createElement("select");
    step.id = select.id + "-group";
    var any = document.createElement("option");
    any.value = "";
    any.textContent = t("全部", "All");
    step.appendChild(any);
    groups.forEach(function (g, i) {
      var o = document.createElement("option");
      o.value = String(i);
      o.textContent = g.label;
      if (g.querySelector("option:checked")) o.selected = true;
      step.appendChild(o);
    });
    box.appendChild(stepLabel);
    box.appendChild(step);
    (label || select).parentNode.insertBefore(box, label || select);
    function narrow() {
      var keep = select.value;
      var n = -1;
      select.textContent = "";
      all.forEach(function (node) {
        if (node.tagName === "OPTGROUP") {
          n += 1;
          if (step.value !== "" && String(n) !== step.value) return;
        }
        select.appendChild(node.cloneNode(true));
      });
      select.value = keep;
      if (select.value !== keep) select.value = "";
      return select.value !== keep;
    }
    step.addEventListener("change", function () {
      // A place outside the chosen province is cleared; the draft hears of it (not the checks).
      if (narrow()) select.dispatchEvent(new Event("input", { bubbles: true }));
    });
    narrow();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("apply-form");
    if (!form) return;
    form.querySelectorAll("select[data-grouped]").forEach(setupGroupedSelect);
    setupChecks(form);
    setupDraft(form);
  });
})();

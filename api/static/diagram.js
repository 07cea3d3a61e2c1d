/* Draws a BPMN diagram with bpmn-js (served from node_modules) and marks its elements.
   A container:  <div class="diagram" data-diagram-url="..." | data-diagram-source="script-id"
                      data-state="script-id" data-modeler="true" data-save-url="...">
   State JSON:   {"elements": {"TaskId": {"state": "done|active|late|returned|problem", "text": "..."}},
                  "focus": "TaskId"}
   Every marked element also gets a text overlay, so colour is never the only signal. */
(function () {
  "use strict";
  var lang = document.documentElement.lang === "en" ? "en" : "zh";
  function t(zh, en) { return lang === "zh" ? zh : en; }
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function readJson(id) {
    var node = id && document.getElementById(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent); } catch (e) { return null; }
  }

  function loadXml(box) {
    var source = box.getAttribute("data-diagram-source");
    if (source) return Promise.resolve(readJson(source) || "");
    return fetch(box.getAttribute("data-diagram-url"), { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    });
  }

  function mark(viewer, state) {
    var canvas = viewer.get("canvas");
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    var elements = (state && state.elements) || {};
    Object.keys(elements).forEach(function (id) {
      var info = elements[id];
      var element = registry.get(id);
      if (!element) return;
      canvas.addMarker(id, "ot-" + info.state);
      if (info.system) canvas.addMarker(id, "ot-system");
      if (info.text) {
        var note = document.createElement("div");
        note.className = "ot-overlay " + info.state + (info.system ? " system" : "");
        note.textContent = info.text;
        var position = element.waypoints ? { top: -10, left: 0 } : { bottom: -4, left: 0 };
        overlays.add(id, "ot-state", { position: position, html: note });
      }
    });
    if (state && state.focus && registry.get(state.focus)) focus(viewer, state.focus);
  }

  function focus(viewer, id) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    registry.forEach(function (el) { canvas.removeMarker(el.id, "ot-focus"); });
    var element = registry.get(id);
    if (!element) return false;
    canvas.addMarker(id, "ot-focus");
    if (canvas.scrollToElement) canvas.scrollToElement(element);
    return true;
  }

  function showProblems(box, viewer, problems) {
    var list = document.getElementById(box.getAttribute("data-problems-list"));
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var overlays = viewer.get("overlays");
    registry.forEach(function (el) { canvas.removeMarker(el.id, "ot-problem"); });
    overlays.remove({ type: "ot-state" });
    if (!list) return;
    list.innerHTML = "";
    problems.forEach(function (p) {
      var li = document.createElement("li");
      var text = lang === "en" && p.message_en ? p.message_en : p.message;
      if (p.element && registry.get(p.element)) {
        canvas.addMarker(p.element, "ot-problem");
        var b = document.createElement("button");
        b.type = "button"; b.className = "link"; b.textContent = p.element;
        b.setAttribute("data-element", p.element);
        b.addEventListener("click", function () { focus(viewer, p.element); });
        li.appendChild(b);
        li.appendChild(document.createTextNode("：" + text));
      } else {
        li.textContent = (p.file ? p.file + "：" : "") + (p.element ? p.element + "：" : "") + text;
      }
      list.appendChild(li);
    });
    var holder = document.getElementById(box.getAttribute("data-problems-box"));
    if (holder) holder.hidden = problems.length === 0;
  }

  function setupSave(box, viewer) {
    var button = document.getElementById(box.getAttribute("data-save-button"));
    var status = document.getElementById(box.getAttribute("data-save-status"));
    if (!button) return;
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = t("正在校验并保存…", "Validating and saving…");
      viewer.saveXML({ format: true }).then(function (result) {
        var body = new URLSearchParams();
        body.append("xml", result.xml);
        return fetch(box.getAttribute("data-save-url"), {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
        });
      }).then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); })
        .then(function (answer) {
          button.disabled = false;
          if (answer.status === 200 || answer.status === 201) {
            status.textContent = "✓ " + (answer.body.created
              ? t("已保存为新版本 v", "Saved as new version v") + answer.body.version
              : t("内容未变化，仍为 v", "Unchanged; still v") + answer.body.version);
            status.className = "ok";
            showProblems(box, viewer, []);
          } else {
            var problems = answer.body.problems || [];
            status.textContent = "⚠ " + t("未保存：发现 ", "Not saved: ") + problems.length + t(" 处问题", " problem(s) found");
            status.className = "error-text";
            showProblems(box, viewer, problems);
          }
        }).catch(function (e) {
          button.disabled = false;
          status.textContent = "⚠ " + t("保存失败：", "Saving failed: ") + e.message;
        });
    });
  }

  function draw(box) {
    var modeler = box.getAttribute("data-modeler") === "true";
    var viewer = new window.BpmnJS({ container: box });
    box._viewer = viewer;
    loadXml(box).then(function (xml) { return viewer.importXML(xml); }).then(function () {
      viewer.get("canvas").zoom("fit-viewport", "auto");
      mark(viewer, readJson(box.getAttribute("data-state")));
      if (modeler) setupSave(box, viewer);
      box.setAttribute("data-drawn", "true");
    }).catch(function (e) {
      var p = document.createElement("p");
      p.className = "error-text";
      p.textContent = t("流程图无法显示：", "The diagram cannot be drawn: ") + e.message;
      box.appendChild(p);
      box.setAttribute("data-drawn", "failed");
    });
    document.querySelectorAll('[data-focus-element]').forEach(function (b) {
      b.addEventListener("click", function () { focus(viewer, b.getAttribute("data-focus-element")); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".diagram[data-diagram-url], .diagram[data-diagram-source]").forEach(draw);
  });
})();

/* The studio's bpmn-js modeler: draw a bundle version's diagram clear of the palette, save it as
   a new draft version after the server's full validation, and list every problem it finds.
   A container:  <div class="diagram" id="modeler" data-modeler-url="/diagrams/KEY/N.bpmn"
                      data-key="KEY" data-version="N">
   After a save the page names the version just saved ("based on vN") and the next save
   builds on it, so two saves in a row make two versions, each on the one before. */
(function () {
  "use strict";
  var lang = document.documentElement.lang === "en" ? "en" : "zh";
  function t(zh, en) { return lang === "zh" ? zh : en; }
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var PAD = 24;  // screen pixels kept free around the drawing

  /* Fit the whole diagram in the part of the canvas the palette leaves free (left of the
     canvas is the palette), never zooming in beyond 1:1. */
  function fitClear(modeler, box) {
    var canvas = modeler.get("canvas");
    canvas.zoom("fit-viewport", "auto");
    var inner = canvas.viewbox().inner;
    if (!inner.width || !inner.height) return;
    var palette = box.querySelector(".djs-palette");
    var left = PAD;
    if (palette) left += palette.getBoundingClientRect().right - box.getBoundingClientRect().left;
    var width = box.clientWidth, height = box.clientHeight;
    var scale = Math.min((width - left - PAD) / inner.width, (height - 2 * PAD) / inner.height, 1);
    if (!(scale > 0)) return;
    canvas.viewbox({
      x: inner.x - left / scale,
      y: inner.y - (height / scale - inner.height) / 2,
      width: width / scale,
      height: height / scale
    });
  }

  function focus(modeler, id) {
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    registry.forEach(function (el) { canvas.removeMarker(el.id, "ot-focus"); });
    var element = registry.get(id);
    if (!element) return;
    canvas.addMarker(id, "ot-focus");
    if (canvas.scrollToElement) canvas.scrollToElement(element);
  }

  function part(tag, className, text) {
    var node = document.createElement(tag);
    node.className = className;
    node.textContent = text;
    return node;
  }

  /* One problem as the refused-upload page writes it: file, then place, then message. */
  function problemItem(modeler, p) {
    var li = document.createElement("li");
    var place = p.element || p.where || "";
    var text = lang === "en" && p.message_en ? p.message_en : p.message;
    if (place && text.indexOf(place + ": ") === 0) text = text.slice(place.length + 2);  // said once
    var sep = t("：", ": ");
    if (p.file) {
      li.appendChild(part("code", "problem-file", p.file));
      if (place) li.appendChild(part("span", "sep", sep));
    }
    if (p.element && modeler.get("elementRegistry").get(p.element)) {
      var button = part("button", "link problem-where", p.element);
      button.type = "button";
      button.setAttribute("data-element", p.element);
      button.addEventListener("click", function () { focus(modeler, p.element); });
      li.appendChild(button);
    } else if (place) {
      li.appendChild(part("code", "problem-where", place));
    }
    if (p.file || place) li.appendChild(part("span", "sep", sep));
    li.appendChild(part("span", "problem-message", text));
    if (p.element) li.setAttribute("data-element", p.element);
    return li;
  }

  function showProblems(modeler, problems) {
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    var list = document.getElementById("modeler-problems");
    registry.forEach(function (el) { canvas.removeMarker(el.id, "ot-problem"); });
    list.innerHTML = "";
    problems.forEach(function (p) {
      if (p.element && registry.get(p.element)) canvas.addMarker(p.element, "ot-problem");
      list.appendChild(problemItem(modeler, p));
    });
    document.getElementById("modeler-problems-box").hidden = problems.length === 0;
  }

  /* The page now stands on version ``version``: the heading, the back link and the next save. */
  function standOn(box, version) {
    box.setAttribute("data-version", String(version));
    var based = document.getElementById("based-on");
    if (based) {
      based.setAttribute("data-version", String(version));
      based.textContent = t("基于 v", "based on v") + version;
    }
    var back = document.getElementById("back-to-version");
    if (back) {
      back.href = "/studio/" + encodeURIComponent(box.getAttribute("data-key")) + "?version=" + version;
      var label = back.querySelector(".version-label");
      if (label) label.textContent = "v" + version;
    }
  }

  function saved(box, status, body) {
    status.textContent = "";
    status.className = "ok";
    var words = body.created
      ? t("✓ 已保存为新版本 v", "✓ Saved as new version v") + body.version +
        (body.status === "draft" ? t("（草稿：提交审核并由他人发布后生效）", " (a draft: live once submitted and published by someone else)") : "")
      : t("✓ 内容未变化，仍为 v", "✓ Unchanged; still v") + body.version;
    status.appendChild(document.createTextNode(words + " "));
    var link = document.createElement("a");
    link.href = "/studio/" + encodeURIComponent(box.getAttribute("data-key")) + "?version=" + body.version;
    link.textContent = t("查看并提交审核", "View it and submit for review");
    status.appendChild(link);
    standOn(box, body.version);
  }

  function setupSave(box, modeler) {
    var button = document.getElementById("save-diagram");
    var status = document.getElementById("save-status");
    button.addEventListener("click", function () {
      button.disabled = true;
      status.className = "";
      status.textContent = t("正在校验并保存…", "Validating and saving…");
      modeler.saveXML({ format: true }).then(function (result) {
        var body = new URLSearchParams();
        body.append("xml", result.xml);
        var url = "/studio/" + encodeURIComponent(box.getAttribute("data-key")) + "/diagram?version=" +
          encodeURIComponent(box.getAttribute("data-version"));
        return fetch(url, {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf, "Accept": "application/json" }
        });
      }).then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); })
        .then(function (answer) {
          button.disabled = false;
          if (answer.status === 200 || answer.status === 201) {
            saved(box, status, answer.body);
            showProblems(modeler, []);
          } else {
            var problems = answer.body.problems || [];
            status.textContent = "⚠ " + t("未保存：发现 ", "Not saved: ") + problems.length + t(" 处问题", " problem(s) found");
            status.className = "error-text";
            showProblems(modeler, problems);
          }
        }).catch(function (e) {
          button.disabled = false;
          status.className = "error-text";
          status.textContent = "⚠ " + t("保存失败：", "Saving failed: ") + e.message;
        });
    });
  }

  function draw(box) {
    var modeler = new window.BpmnJS({ container: box });
    box._viewer = modeler;
    fetch(box.getAttribute("data-modeler-url"), { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    }).then(function (xml) { return modeler.importXML(xml); }).then(function () {
      fitClear(modeler, box);
      setupSave(box, modeler);
      box.setAttribute("data-drawn", "true");
    }).catch(function (e) {
      box.appendChild(part("p", "error-text", t("流程图无法显示：", "The diagram cannot be drawn: ") + e.message));
      box.setAttribute("data-drawn", "failed");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector(".diagram[data-modeler-url]");
    if (box) draw(box);
  });
})();

/* Draws a BPMN diagram with bpmn-js (served from node_modules) and marks its elements.
   A container:  <div class="diagram" data-diagram-url="..." | data-diagram-source="script-id"
                      data-state="script-id" data-autosize="true">
   (The studio's editor is modeler.js.)
   State JSON:   {"elements": {"TaskId": {"state": "done|active|late|returned|problem", "text": "..."}},
                  "focus": "TaskId"}
   Every marked element also gets a text overlay, so colour is never the only signal.
   Viewing: the diagram opens fitted to its container's width, but never smaller than labels
   stay readable (14 px labels at 0.8 and up: 11 px on screen); a wide diagram is then panned
   (drag, one finger, arrow keys) or zoomed (buttons, +/-/0 keys, Ctrl+wheel). With
   data-autosize the container's height follows the diagram (up to three quarters of the
   window). A diagram drawn while hidden (a closed <details> on a phone) is fitted when it
   first shows, and again when its width changes until the user zooms or pans it. */
(function () {
  "use strict";
  var lang = document.documentElement.lang === "en" ? "en" : "zh";
  function t(zh, en) { return lang === "zh" ? zh : en; }
  var READABLE = 0.8;  // the smallest default scale: 14 px labels stay >= 11 px on screen
  var LARGEST = 1.25;  // the largest default scale: a small diagram is not blown up
  var PAD = 16;  // screen pixels left around the diagram
  var STEP = 1.25;  // one press of zoom in/out
  var LABELS = { defaultStyle: { fontSize: 14, lineHeight: 1.25 }, externalStyle: { fontSize: 13 } };

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

  function clamp(value, low, high) { return Math.min(Math.max(value, low), high); }

  /* The opening view: fitted to the width within [READABLE, LARGEST], the focus element (or
     the diagram's start) in sight. Answers false while the container has no size (hidden). */
  function defaultView(box, viewer) {
    var canvas = viewer.get("canvas");
    if (!box.clientWidth || !box.clientHeight) return false;
    canvas.resized();
    var inner = canvas.viewbox().inner;
    if (!inner.width || !inner.height) return false;
    var width = box.clientWidth;
    var scale = clamp((width - 2 * PAD) / inner.width, READABLE, LARGEST);
    if (box.getAttribute("data-autosize") === "true") {
      var most = Math.max(280, Math.round(window.innerHeight * 0.75));
      box.style.height = Math.round(clamp(inner.height * scale + 2 * PAD, 200, most)) + "px";
      canvas.resized();
    }
    var height = box.clientHeight;
    scale = clamp(Math.min(scale, (height - 2 * PAD) / inner.height), READABLE, LARGEST);
    var w = width / scale, h = height / scale, pad = PAD / scale;
    var focusId = box._state && box._state.focus;
    var target = focusId && viewer.get("elementRegistry").get(focusId);
    var cx = inner.x + inner.width / 2, cy = inner.y + inner.height / 2;
    if (inner.width + 2 * pad > w) {
      cx = target ? target.x + (target.width || 0) / 2 : inner.x - pad + w / 2;
      cx = clamp(cx, inner.x - pad + w / 2, inner.x + inner.width + pad - w / 2);
    }
    if (inner.height + 2 * pad > h) {
      cy = target ? target.y + (target.height || 0) / 2 : inner.y - pad + h / 2;
      cy = clamp(cy, inner.y - pad + h / 2, inner.y + inner.height + pad - h / 2);
    }
    canvas.viewbox({ x: cx - w / 2, y: cy - h / 2, width: w, height: h });
    box._fittedWidth = width;
    return true;
  }

  function showScale(box, viewer) {
    var scale = viewer.get("canvas").viewbox().scale;
    box.setAttribute("data-scale", String(Math.round(scale * 1000) / 1000));
    var out = box._scaleText;
    if (out) out.textContent = Math.round(scale * 100) + "%";
  }

  function zoomBy(box, viewer, factor) {
    var canvas = viewer.get("canvas");
    box._userMoved = true;
    canvas.zoom(clamp(canvas.zoom() * factor, 0.2, 4));
  }

  function reset(box, viewer) {
    box._userMoved = false;
    defaultView(box, viewer);
  }

  /* Zoom buttons above the container: labelled, reachable by Tab, 44 px targets (diagram.css). */
  function addTools(box, viewer) {
    if (box.getAttribute("data-zoom-tools") === "false" || box._tools) return;
    var bar = document.createElement("div");
    bar.className = "diagram-tools";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", t("流程图缩放", "Diagram zoom"));
    if (box.id) bar.setAttribute("aria-controls", box.id);
    [
      ["in", "＋", t("放大", "Zoom in"), function () { zoomBy(box, viewer, STEP); }],
      ["out", "－", t("缩小", "Zoom out"), function () { zoomBy(box, viewer, 1 / STEP); }],
      ["fit", "⤢", t("适应宽度", "Fit"), function () { reset(box, viewer); }]
    ].forEach(function (spec) {
      var b = document.createElement("button");
      b.type = "button";
      b.setAttribute("data-zoom", spec[0]);
      var sign = document.createElement("span");
      sign.setAttribute("aria-hidden", "true");
      sign.textContent = spec[1] + " ";
      b.appendChild(sign);
      b.appendChild(document.createTextNode(spec[2]));
      b.addEventListener("click", spec[3]);
      bar.appendChild(b);
    });
    var scale = document.createElement("output");
    scale.className = "muted";
    scale.setAttribute("aria-label", t("当前比例", "Current scale"));
    bar.appendChild(scale);
    box._scaleText = scale;
    var hint = document.createElement("span");
    hint.className = "hint";
    hint.textContent = t("拖动可平移；方向键平移，+/- 缩放，0 复位。", "Drag to pan; arrow keys pan, +/- zoom, 0 resets.");
    bar.appendChild(hint);
    box.parentNode.insertBefore(bar, box);
    box._tools = bar;
  }

  /* Keys on the focused diagram, and panning with one finger (pinching with two) on touch screens;
     the mouse drag and Ctrl+wheel come with bpmn-js's navigated viewer. */
  function addNavigation(box, viewer) {
    var canvas = viewer.get("canvas");
    box.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      var moves = { ArrowLeft: [60, 0], ArrowRight: [-60, 0], ArrowUp: [0, 60], ArrowDown: [0, -60] };
      if (moves[e.key]) {
        box._userMoved = true;
        canvas.scroll({ dx: moves[e.key][0], dy: moves[e.key][1] });
      } else if (e.key === "+" || e.key === "=") {
        zoomBy(box, viewer, STEP);
      } else if (e.key === "-" || e.key === "_") {
        zoomBy(box, viewer, 1 / STEP);
      } else if (e.key === "0") {
        reset(box, viewer);
      } else {
        return;
      }
      e.preventDefault();
    });
    // bpmn-js pans by mouse only once its canvas has the focus: take it before its own mousedown,
    // so the first drag already moves the diagram.
    box.addEventListener("mousedown", function () {
      box._userMoved = true;
      if (canvas.focus && !canvas.isFocused()) canvas.focus();
    }, true);
    box.addEventListener("wheel", function () { box._userMoved = true; }, { passive: true });
    var touches = {};
    function spread() {
      var ids = Object.keys(touches);
      if (ids.length < 2) return 0;
      var a = touches[ids[0]], b = touches[ids[1]];
      return Math.hypot(a.x - b.x, a.y - b.y);
    }
    box.addEventListener("pointerdown", function (e) {
      if (e.pointerType !== "touch") return;
      touches[e.pointerId] = { x: e.clientX, y: e.clientY };
      box._spread = spread();
    });
    box.addEventListener("pointermove", function (e) {
      var before = touches[e.pointerId];
      if (!before) return;
      box._userMoved = true;
      touches[e.pointerId] = { x: e.clientX, y: e.clientY };
      if (Object.keys(touches).length === 1) {
        canvas.scroll({ dx: e.clientX - before.x, dy: e.clientY - before.y });
      } else if (box._spread) {
        var now = spread();
        var rect = box.getBoundingClientRect();
        canvas.zoom(clamp(canvas.zoom() * now / box._spread, 0.2, 4),
          { x: e.clientX - rect.left, y: e.clientY - rect.top });
        box._spread = now;
      }
      e.preventDefault();
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
      box.addEventListener(name, function (e) { delete touches[e.pointerId]; box._spread = spread(); });
    });
  }

  /* Fit when the container first gets a size (a <details> opened, a phone turned) and whenever
     its width changes, until the user has zoomed or panned. */
  function watchSize(box, viewer) {
    function check() {
      if (!box.clientWidth) return;
      if (box._userMoved) { viewer.get("canvas").resized(); return; }
      if (box._fittedWidth !== box.clientWidth) defaultView(box, viewer);
    }
    if (window.ResizeObserver) new window.ResizeObserver(check).observe(box);
    // Opening a <details> always brings back the readable opening view (unless the user has moved
    // it), also over a page script's own fit-viewport registered before this one.
    var details = box.closest("details");
    if (details) {
      details.addEventListener("toggle", function () {
        if (details.open && box.clientWidth && !box._userMoved) defaultView(box, viewer);
      });
    }
    window.addEventListener("resize", check);
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
    if (state && state.focus && registry.get(state.focus)) canvas.addMarker(state.focus, "ot-focus");
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

  function draw(box) {
    var viewer = new window.BpmnJS({ container: box, textRenderer: LABELS });
    box._viewer = viewer;
    box._state = readJson(box.getAttribute("data-state"));
    loadXml(box).then(function (xml) { return viewer.importXML(xml); }).then(function () {
      var canvas = viewer.get("canvas");
      var svg = canvas.getContainer().querySelector("svg");
      if (svg) svg.setAttribute("aria-label", t("流程图：方向键平移，+/- 缩放，0 复位", "Diagram: arrow keys pan, +/- zoom, 0 resets"));
      mark(viewer, box._state);
      addTools(box, viewer);
      addNavigation(box, viewer);
      viewer.on("canvas.viewbox.changed", function () { showScale(box, viewer); });
      defaultView(box, viewer);
      showScale(box, viewer);
      watchSize(box, viewer);
      box.setAttribute("data-drawn", "true");
    }).catch(function (e) {
      var p = document.createElement("p");
      p.className = "error-text";
      p.textContent = t("流程图无法显示：", "The diagram cannot be drawn: ") + e.message;
      box.appendChild(p);
      box.setAttribute("data-drawn", "failed");
    });
    document.querySelectorAll('[data-focus-element]').forEach(function (b) {
      b.addEventListener("click", function () { box._userMoved = true; focus(viewer, b.getAttribute("data-focus-element")); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".diagram[data-diagram-url], .diagram[data-diagram-source]").forEach(draw);
  });
})();

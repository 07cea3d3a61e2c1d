// 情形引导: the result follows each answer (the page works without this: "查看结果" reloads it).
(function () {
  "use strict";
  const form = document.getElementById("guide-form");
  const result = document.getElementById("guide-result");
  if (!form || !result || !window.fetch || !window.DOMParser) return;
  const show = document.getElementById("guide-show");
  if (show) show.hidden = true;
  let latest = 0;
  async function update() {
    const mine = ++latest;
    const params = new URLSearchParams(new FormData(form));
    const url = form.getAttribute("action") + (params.toString() ? "?" + params.toString() : "");
    let answer;
    try {
      answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    } catch (err) {
      if (show) show.hidden = false; // offline: let the button do it
      return;
    }
    if (!answer.ok || mine !== latest) return;
    const page = new DOMParser().parseFromString(await answer.text(), "text/html");
    const fresh = page.getElementById("guide-result");
    if (!fresh || mine !== latest) return;
    result.innerHTML = fresh.innerHTML; // the same live region, so screen readers hear the change
    result.dataset.updated = String(mine);
    history.replaceState(null, "", url);
  }
  form.addEventListener("change", update);
})();

// Drawing shared by the checker (app.js) and the review queue (review.js): no state of its own.
"use strict";
window.cgRender = (() => {
  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  const humanLabel = (s) => String(s).toLowerCase().replace(/_/g, " ");
  const pct = (x) => `${(Number(x) * 100).toFixed(1)}%`;

  /** One meter row per score into `list`, highest first. */
  function renderScores(list, scores) {
    list.replaceChildren();
    for (const [name, value] of Object.entries(scores).sort((a, b) => b[1] - a[1])) {
      const row = make("div", "score-row");
      row.dataset.testid = "score-row";
      row.dataset.class = name;
      row.dataset.value = String(value);
      const bar = make("div", "bar");
      bar.setAttribute("role", "meter");
      bar.setAttribute("aria-label", name);
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "1");
      bar.setAttribute("aria-valuenow", String(value));
      bar.setAttribute("aria-valuetext", pct(value));
      const fill = make("div", `bar-fill bar-${name}`);
      fill.style.width = `${Math.max(0, Math.min(1, value)) * 100}%`;
      bar.append(fill);
      row.append(make("span", "score-name", name), bar, make("span", "score-value", pct(value)));
      list.append(row);
    }
  }

  /** The detections as text lines into `list` (with their frame when `animated`). */
  function renderDetections(list, detections, animated) {
    list.replaceChildren();
    if (!detections.length) {
      list.append(make("li", "muted", "No regions found."));
      return;
    }
    for (const d of detections) {
      const [x, y, w, h] = d.box;
      let text = `${humanLabel(d.label)} — ${pct(d.score)} at ${x}, ${y} (${w} × ${h} px)`;
      if (animated && d.frame !== null && d.frame !== undefined) text += `, frame ${d.frame}`;
      const li = make("li", "detection", text);
      li.dataset.testid = "detection";
      list.append(li);
    }
  }

  /** Replace `layer`'s boxes with the result's detections, scaled from the result's pixels to
   * the size `image` is displayed at (nothing while the image has no size yet). */
  function drawBoxes(layer, image, result) {
    layer.replaceChildren();
    const shownW = image.clientWidth;
    const shownH = image.clientHeight;
    if (!result || !shownW || !shownH || !result.width || !result.height) return;
    const sx = shownW / result.width;
    const sy = shownH / result.height;
    for (const d of result.detections || []) {
      const [x, y, w, h] = d.box;
      const box = make("div", "box");
      box.dataset.testid = "box";
      box.dataset.label = d.label;
      Object.assign(box.style, {
        left: `${x * sx}px`, top: `${y * sy}px`,
        width: `${Math.max(2, w * sx)}px`, height: `${Math.max(2, h * sy)}px`,
      });
      const tag = make("span", "box-label", `${humanLabel(d.label)} ${Math.round(d.score * 100)}%`);
      if (y * sy < 20) tag.classList.add("inside");
      box.append(tag);
      layer.append(box);
    }
  }

  return { make, humanLabel, pct, renderScores, renderDetections, drawBoxes };
})();

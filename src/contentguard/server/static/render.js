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

  return { make, humanLabel, drawBoxes };
})();

"""Greedy non-maximum suppression in NumPy, with the semantics of OpenCV's `cv2.dnn.NMSBoxes`.

NudeNet (and most YOLO ports) call `cv2.dnn.NMSBoxes(boxes, scores, score_threshold,
nms_threshold)`; these are the details of that call we reproduce, so the same candidates give
the same kept boxes:

* boxes are float `[x, y, w, h]` (the Python binding takes `Rect2d`), used in float64;
* the IoU adds **no** `+1` to widths or heights: the area of `[x, y, w, h]` is `w * h` and the
  intersection is `min(right) - max(left)` (empty when ≤ 0), i.e. OpenCV's
  `1 - jaccardDistance(a, b)`; it is rounded to float32 like OpenCV's `rectOverlap` before it
  is compared with the threshold;
* candidates need `score > score_threshold` (strictly greater), compared in float32;
* they are visited by descending score, ties in input order (OpenCV's `stable_sort`);
* a candidate is dropped when its overlap with an already kept box is `> iou_threshold`
  (an overlap exactly equal to the threshold is kept);
* suppression is class-agnostic: callers that want per-class NMS call it once per class.
"""

from __future__ import annotations

import numpy as np


def iou_xywh(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one `[x, y, w, h]` box with each row of `boxes` (float64).

    Two boxes of zero total area overlap completely (1.0), as in OpenCV's `jaccardDistance`.
    """
    box = np.asarray(box, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x, y, w, h = box
    bx, by, bw, bh = boxes.T
    inter_w = np.minimum(x + w, bx + bw) - np.maximum(x, bx)
    inter_h = np.minimum(y + h, by + bh) - np.maximum(y, by)
    inter = np.where((inter_w > 0) & (inter_h > 0), inter_w * inter_h, 0.0)
    total = w * h + bw * bh
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / (total - inter)
    return np.where(total <= np.finfo(np.float64).eps, 1.0, iou)


def _overlap_like_opencv(iou: np.ndarray) -> np.ndarray:
    """OpenCV's `rectOverlap`: `1.f - (float)(1.0 - iou)`, i.e. the IoU rounded via float32."""
    return np.float32(1.0) - (1.0 - iou).astype(np.float32)


def nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    score_threshold: float,
    iou_threshold: float,
) -> np.ndarray:
    """Indices (into `boxes`) of the kept boxes, best score first, like `cv2.dnn.NMSBoxes`.

    `boxes` is N×4 `[x, y, w, h]`, `scores` has N entries. The loop runs once per *kept* box;
    each step suppresses everything that box overlaps in one vectorised IoU.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    if boxes.shape[0] != scores.shape[0]:
        raise ValueError(f"{boxes.shape[0]} boxes but {scores.shape[0]} scores")
    candidates = np.flatnonzero(scores > np.float32(score_threshold))
    # stable sort on the negated score: descending, ties keep input order
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    threshold = np.float32(iou_threshold)
    keep: list[int] = []
    while order.size:
        best = order[0]
        keep.append(int(best))
        rest = order[1:]
        overlap = _overlap_like_opencv(iou_xywh(boxes[best], boxes[rest]))
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)

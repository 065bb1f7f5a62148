"""The NudeNet 320n detector (YOLOv8n, 18 labels) on ONNX Runtime, without OpenCV or `nudenet`.

A port of `nudenet.NudeDetector().detect()` (nudenet 3.4.2), step by step:

1. **Letterbox + resize.** NudeNet pads the image with zeros at the bottom and right to a
   square of side `max(h, w)` and lets `cv2.dnn.blobFromImage` resize it to 320×320 with
   `INTER_LINEAR` on the uint8 pixels. OpenCV does that in fixed point (11-bit weights and a
   SIMD vertical pass that truncates twice), so a float bilinear resize rounded with
   `np.rint` differs by ±1 on 5–13 % of the values. `_resize_like_opencv` reproduces the
   fixed-point arithmetic and is bit-exact with `cv2.resize` (checked on every shared photo and
   on random sizes from 1×1 to 1500 px, up- and down-scaling; see the tests). The padding
   is never materialised: weights that would read it are zero.
2. **Channels and scale.** NudeNet's `_read_image` calls `cv2.cvtColor(mat, COLOR_RGBA2BGR)`
   on the BGR image from `cv2.imread` — on 3 channels that swaps R and B — and then
   `blobFromImage(swapRB=True)` swaps them back: **the model is fed BGR**, not RGB. Every
   published NudeNet 3.4 result comes from that pipeline, so `CHANNEL_ORDER = "BGR"` by
   default; feeding RGB changes scores noticeably (e.g. 0.72 → 0.81 on a face; faces found
   or lost on small images). Then `value * float32(1/255)` (what `blobFromImage` computes,
   not `value / 255`), HWC → CHW float32.
3. **Run.** One session run per batch (the model's batch dimension is dynamic); the output is
   `[batch, 4 + 18, 2100]`: `cx, cy, w, h` in input pixels, then 18 class scores.
4. **Decode** (vectorised): rows whose best class score is ≥ `CANDIDATE_SCORE` become
   candidates `[x, y, w, h]` (top-left corner), scaled by `side / 320` and clipped exactly as
   NudeNet does — in float32, `x, y` into `[0, W]`/`[0, H]`, then `w = min(w, W - x)` with the
   *clipped* `x` (a box hanging off the left or top edge keeps its full width/height; we keep
   that quirk for parity).
5. **NMS**: class-agnostic, `score > MIN_SCORE`, IoU `> IOU` suppressed, with
   `cv2.dnn.NMSBoxes`' semantics (`contentguard.detectors.image.nms`).
6. **Output**: boxes in the original image's pixels (× `frame.scale`, then truncated to int
   like NudeNet's `int(x)`); `Signals.scores[label]` is the best kept score of that label
   (0.0 when none was kept), which the policy reads.
"""

from __future__ import annotations

import ast
from typing import ClassVar

import numpy as np
import onnxruntime as ort

from contentguard.detectors.base import ImageDetector, Prepared, Signals
from contentguard.detectors.image.nms import nms
from contentguard.detectors.onnx_session import create_session
from contentguard.errors import ModelIntegrityError
from contentguard.media.types import Frame
from contentguard.models.sources import nudenet
from contentguard.models.store import ModelStore
from contentguard.schemas import Detection
from contentguard.settings import Settings

LABELS = nudenet.LABELS

_COEF_BITS = 11  # OpenCV's INTER_RESIZE_COEF_BITS
_COEF_SCALE = 1 << _COEF_BITS
_INV_255 = np.float32(1.0 / 255.0)


def _opencv_axis(
    in_size: int, out_size: int, valid: int, *, clamp_weight: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and fixed-point weights of OpenCV's INTER_LINEAR along one axis.

    `in_size` is the padded (canvas) size and `valid` the real image size along the axis;
    weights of source positions in the zero padding are set to 0 and their indices clamped,
    which gives the same sums as reading zeros. `clamp_weight`: OpenCV zeroes the fraction
    at the borders for columns but keeps it (and clamps the row index) for rows.
    """
    scale = in_size / out_size
    pos = ((np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    low = np.floor(pos).astype(np.int64)
    frac = pos - low.astype(np.float32)
    if clamp_weight:
        before, after = low < 0, low + 1 >= in_size
        frac[before | after] = 0.0
        low[before] = 0
        low[after] = in_size - 1
    high = np.clip(low + 1, 0, in_size - 1)
    low = np.clip(low, 0, in_size - 1)
    w_low = np.rint((np.float32(1.0) - frac) * np.float32(_COEF_SCALE)).astype(np.int32)
    w_high = np.rint(frac * np.float32(_COEF_SCALE)).astype(np.int32)
    w_low[low >= valid] = 0
    w_high[high >= valid] = 0
    return np.minimum(low, valid - 1), np.minimum(high, valid - 1), w_low, w_high


def _resize_like_opencv(image: np.ndarray, out_h: int, out_w: int, side: int) -> np.ndarray:
    """`cv2.resize(pad(image, side×side), (out_w, out_h), INTER_LINEAR)` for HxWxC uint8.

    Horizontal pass: `p0 * a0 + p1 * a1` with 11-bit weights (exact in int32). Vertical pass as
    OpenCV's SIMD kernel: `((r0 >> 4) * b0 >> 16) + ((r1 >> 4) * b1 >> 16)`, then
    `(v + 2) >> 2`, saturated to uint8. Only the 2×out_h source rows and 2×out_w source
    columns that are read get gathered, so the cost hardly depends on the input size.
    """
    h, w, channels = image.shape
    y0, y1, b0, b1 = _opencv_axis(side, out_h, h, clamp_weight=False)
    x0, x1, a0, a1 = _opencv_axis(side, out_w, w, clamp_weight=True)
    flat = image.reshape(h, w * channels)
    offsets = np.arange(channels)
    cols0 = (x0[:, None] * channels + offsets).ravel()
    cols1 = (x1[:, None] * channels + offsets).ravel()
    weights0, weights1 = np.repeat(a0, channels), np.repeat(a1, channels)

    def horizontal(ys: np.ndarray, beta: np.ndarray) -> np.ndarray:
        picked = flat.take(ys, axis=0)
        acc = picked.take(cols0, axis=1).astype(np.int32)
        acc *= weights0
        high = picked.take(cols1, axis=1).astype(np.int32)
        high *= weights1
        acc += high
        acc >>= 4
        acc *= beta[:, None]
        acc >>= 16
        return acc

    out = horizontal(y0, b0)
    out += horizontal(y1, b1)
    out += 2
    out >>= 2
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8).reshape(out_h, out_w, channels)


def _model_input_size(session: ort.InferenceSession) -> int:
    """The square input size the model was exported for (Ultralytics metadata `imgsz`)."""
    meta = session.get_modelmeta().custom_metadata_map
    if "imgsz" in meta:
        size = ast.literal_eval(meta["imgsz"])
        sizes = {int(s) for s in (size if isinstance(size, list | tuple) else [size])}
        if len(sizes) == 1:
            return sizes.pop()
    height, width = session.get_inputs()[0].shape[2:4]
    if isinstance(height, int) and height == width:
        return height
    raise ModelIntegrityError(f"cannot tell the input size of the NudeNet model (metadata {meta})")


class NudityDetector(ImageDetector):
    """Regions of 18 labels (exposed and covered body parts, faces) with NudeNet 320n."""

    name: ClassVar[str] = "nudity-detector"
    model_name = "nudenet-320n"
    version = f"nudenet-{nudenet.VERSION}"
    labels: ClassVar[tuple[str, ...]] = LABELS

    #: a row becomes a candidate when its best class score is at least this (NudeNet's 0.2).
    #: Candidates only matter through NMS, which needs MIN_SCORE, so any value ≤ MIN_SCORE
    #: gives the same detections; it only bounds the work NMS does.
    CANDIDATE_SCORE: ClassVar[float] = 0.2
    #: NMS score threshold: a detection needs a score strictly greater than this (0.25).
    MIN_SCORE: ClassVar[float] = 0.25
    #: NMS IoU threshold: a box overlapping a better kept box by more than this is dropped.
    IOU: ClassVar[float] = 0.45
    #: channel order fed to the model; "BGR" is what NudeNet 3.4.2 feeds (see module doc).
    CHANNEL_ORDER: ClassVar[str] = "BGR"
    #: YOLO activations at 320 px take ~25 MB of ONNX Runtime arena per image, and batches
    #: beyond 4 gain nothing per image on a CPU, so runs are capped at 4 (peak RSS).
    max_batch: ClassVar[int | None] = 4

    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        super().__init__(settings)
        path = (store or ModelStore(settings)).ensure(self.model_name)
        self.session = create_session(path, settings)
        self.input_name = self.session.get_inputs()[0].name
        self.input_size = _model_input_size(self.session)
        channels = self.session.get_outputs()[0].shape[1]
        if isinstance(channels, int) and channels != 4 + len(LABELS):
            raise ModelIntegrityError(
                f"NudeNet model has {channels} output channels, expected {4 + len(LABELS)}"
            )

    def preprocess(self, frame: Frame) -> Prepared:
        size = self.input_size
        side = max(frame.height, frame.width)
        resized = _resize_like_opencv(frame.pixels, size, size, side)  # RGB
        if self.CHANNEL_ORDER == "BGR":
            resized = resized[:, :, ::-1]
        tensor = resized.transpose(2, 0, 1).astype(np.float32, order="C")
        tensor *= _INV_255
        return Prepared(tensor, {"side": side})

    def run(self, inputs: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(inputs, dtype=np.float32)
        (output,) = self.session.run(None, {self.input_name: batch})
        return output

    def postprocess(self, output: np.ndarray, prepared: Prepared, frame: Frame) -> Signals:
        rows = output.T  # anchors × (4 + classes)
        class_scores = rows[:, 4:]
        best = class_scores.max(axis=1)
        picked = np.flatnonzero(best >= np.float32(self.CANDIDATE_SCORE))
        scores = best[picked]
        class_ids = class_scores[picked].argmax(axis=1)
        boxes = self._boxes(rows[picked, :4], prepared.meta["side"], frame)
        keep = nms(boxes, scores, self.MIN_SCORE, self.IOU)

        detections: list[Detection] = []
        best_by_label = dict.fromkeys(LABELS, 0.0)
        original = np.trunc(boxes[keep].astype(np.float64) * frame.scale).astype(np.int64)
        for i, box in zip(keep, original, strict=True):
            label, score = LABELS[class_ids[i]], float(scores[i])
            detections.append(Detection(label=label, score=score, box=box.tolist(), frame=frame.index))
            best_by_label[label] = max(best_by_label[label], score)
        return Signals(scores=best_by_label, detections=detections)

    def _boxes(self, cxcywh: np.ndarray, side: int, frame: Frame) -> np.ndarray:
        """Candidate `[x, y, w, h]` in frame pixels, float32, computed and clipped as NudeNet."""
        cx, cy, w, h = cxcywh.astype(np.float32).T
        side32, size32 = np.float32(side), np.float32(self.input_size)
        width, height = np.float32(frame.width), np.float32(frame.height)
        x = (cx - w / np.float32(2)) * side32 / size32
        y = (cy - h / np.float32(2)) * side32 / size32
        w = w * side32 / size32
        h = h * side32 / size32
        x = np.clip(x, np.float32(0), width)
        y = np.clip(y, np.float32(0), height)
        w = np.minimum(w, width - x)
        h = np.minimum(h, height - y)
        return np.stack([x, y, w, h], axis=1)

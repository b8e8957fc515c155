"""Turn a detected face into exactly what the classifiers were trained on.

FER-2013 faces are 48x48 grayscale, tightly framed from eyebrows to chin.
The framing constants below were measured by running our detector on FER+
faces pasted onto backgrounds (``benchmarks/detectors.py --calibrate``): the
median FER-2013 crop is 1.14 times the BlazeFace box and centred 5% of the box
height above the box centre.  Training and inference both go through
:func:`face_crop` and ``nets.preprocess``, so they see faces framed alike.
"""
from __future__ import annotations

import cv2
import numpy as np

from .constants import FACE_SIZE

CROP_SCALE = 1.14  # crop side / detector box side
CROP_SHIFT_Y = -0.05  # crop centre offset in box heights (negative: up)


def crop_box(box: tuple[int, int, int, int], *, scale: float = CROP_SCALE,
             shift_y: float = CROP_SHIFT_Y) -> tuple[int, int, int]:
    """Square (x0, y0, side) around a detector box (x, y, w, h); may extend past the image."""
    x, y, w, h = box
    side = max(1, int(round(max(w, h) * scale)))
    cx, cy = x + w / 2, y + h / 2 + shift_y * h
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def face_crop(image: np.ndarray, box: tuple[int, int, int, int], *, size: int = FACE_SIZE) -> np.ndarray:
    """Square crop around ``box`` from a BGR or grayscale image, as uint8 (size, size) grayscale.

    Parts of the square outside the image are filled by replicating the border,
    so a face at the edge of a frame keeps its shape instead of being squashed.
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    x0, y0, side = crop_box(box)
    h, w = gray.shape
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    patch = gray[y0:y0 + side, x0:x0 + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def to_face_size(images: np.ndarray) -> np.ndarray:
    """Already-cropped faces (N, H, W) or (N, H, W, 3) of any size -> uint8 (N, 48, 48) grayscale."""
    out = np.empty((len(images), FACE_SIZE, FACE_SIZE), np.uint8)
    for i, img in enumerate(images):
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        if img.shape != (FACE_SIZE, FACE_SIZE):
            interp = cv2.INTER_AREA if img.shape[0] > FACE_SIZE else cv2.INTER_LINEAR
            img = cv2.resize(img, (FACE_SIZE, FACE_SIZE), interpolation=interp)
        out[i] = img
    return out

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

from fer_core.constants import FACE_SIZE

CROP_SCALE = 1.14  # crop side / detector box side
CROP_SHIFT_Y = -0.05  # crop centre offset in box heights (negative: up)
# Faces tilted less than this are cropped as they are: the detector's eye points wobble by a few degrees on
# upright faces, and turning those only blurs them (benchmarks/alignment.py).
ALIGN_MIN_DEGREES = 15.0


def crop_box(
    box: tuple[int, int, int, int], *, scale: float = CROP_SCALE, shift_y: float = CROP_SHIFT_Y
) -> tuple[int, int, int]:
    """Square (x0, y0, side) around a detector box (x, y, w, h); may extend past the image."""
    x, y, w, h = box
    side = max(1, int(round(max(w, h) * scale)))
    cx, cy = x + w / 2, y + h / 2 + shift_y * h
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def face_crop(
    image: np.ndarray,
    box: tuple[int, int, int, int],
    *,
    size: int = FACE_SIZE,
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> np.ndarray:
    """Square crop around ``box`` from a BGR or grayscale image, as uint8 (size, size) grayscale.

    Parts of the square outside the image are filled by replicating the border,
    so a face at the edge of a frame keeps its shape instead of being squashed.
    With ``eyes`` ((right x, y), (left x, y), as the detector gives them) the crop is turned about its
    centre so that the eyes are level, as they are in FER-2013's faces.
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if eyes is not None:
        angle = eye_angle(eyes)
        if abs(angle) >= ALIGN_MIN_DEGREES:
            return _turned_crop(gray, box, angle, size)
    x0, y0, side = crop_box(box)
    h, w = gray.shape
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    patch = gray[y0 : y0 + side, x0 : x0 + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def eye_angle(eyes: tuple[tuple[float, float], tuple[float, float]]) -> float:
    """Degrees (counter-clockwise on screen) the line from the right to the left eye is tilted from level."""
    (rx, ry), (lx, ly) = eyes
    # the person's right eye is on the image's left; level eyes give 0
    return float(np.degrees(np.arctan2(-(ly - ry), lx - rx)))


def _turned_crop(gray: np.ndarray, box, angle: float, size: int) -> np.ndarray:
    """The crop square of ``box``, turned by -``angle`` about its centre: the eyes come out level."""
    x0, y0, side = crop_box(box)
    cx, cy = x0 + side / 2, y0 + side / 2
    # Shrink a region a little larger than the turned square first (area averaging: no aliasing), then turn.
    margin = int(np.ceil(side * 0.75))
    scale = size / side
    region = _padded(gray, int(round(cx)) - margin, int(round(cy)) - margin, 2 * margin)
    small_side = max(1, int(round(2 * margin * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(region, (small_side, small_side), interpolation=interp)
    c = small_side / 2
    m = cv2.getRotationMatrix2D((c, c), -angle, 1.0)
    m[:, 2] += size / 2 - c
    return cv2.warpAffine(small, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _padded(gray: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """gray[y0:y0+side, x0:x0+side], the parts outside the image filled by replicating its border."""
    h, w = gray.shape
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    if pad:
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    return gray[y0 : y0 + side, x0 : x0 + side]


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

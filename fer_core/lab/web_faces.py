"""RAF-DB and AffectNet web faces as the product sees them: 48x48 grayscale crops, a seeded validation part.

Both files hold JPEG bytes (``jpeg``, ``offsets``, ``y``).  RAF-DB's crops are tight and aligned like
FER-2013's, so they are only resized.  AffectNet's are loose 96 px crops with hair and background: each is
padded, its face found by the product's detector and cut by :func:`crop.face_crop` (eyes levelled), so a
training face looks like what the dashboard classifies; where no face is found the centre square is used.

AffectNet has no neutral class.  Its training targets mark neutral as "not asked" (-1, see
:func:`masked_targets`) so that the loss compares the other six classes only and the missing class does not
teach the nets that web faces are never neutral.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from fer_core.constants import FACE_SIZE, NUM_CLASSES

WEB_FILES = {"rafdb": "rafdb_train.npz", "affectnet": "affectnet6_train.npz"}
# Classes each source never labels: masked out of its loss.
MISSING_CLASSES = {"affectnet": (6,)}
VALIDATION_FRACTION = 0.10
SPLIT_SEED = 4401  # fixed for good: the validation part must never leak into a later run's training part
# AffectNet's face fills about 60% of its 96 px crop; padding it lets the detector see a whole head.
PAD_FRACTION = 0.5


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def validation_mask(y: np.ndarray, *, fraction: float = VALIDATION_FRACTION, seed: int = SPLIT_SEED) -> np.ndarray:
    """True for the held-out validation part: ``fraction`` of each class, chosen by a fixed seed."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(y), bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        held[rng.permutation(idx)[: int(round(fraction * len(idx)))]] = True
    return held


def load_web_faces(data_dir: str | Path, source: str, part: str, *, cache_dir: Path | None = None):
    """(x uint8 (N,48,48), y int64 (N,)) of ``source``'s ``part`` ("train" or "val")."""
    if source not in WEB_FILES:
        raise ValueError(f"unknown web source {source!r}: use {sorted(WEB_FILES)}")
    if part not in ("train", "val"):
        raise ValueError(f"part must be 'train' or 'val'; received {part!r}")
    x, y = _all_crops(Path(data_dir), source, cache_dir)
    held = validation_mask(y)
    keep = held if part == "val" else ~held
    return x[keep], y[keep]


def has_web_crops(source: str, cache_dir: Path | None) -> bool:
    """Whether ``source``'s crops are cached (a GPU machine gets them packed, without the source file)."""
    return bool(cache_dir) and (Path(cache_dir) / f"{source}_crops48.npz").exists()


def _all_crops(data_dir: Path, source: str, cache_dir: Path | None):
    cache = Path(cache_dir) / f"{source}_crops48.npz" if cache_dir else None
    if cache and cache.exists():
        d = np.load(cache)
        return d["x"], d["y"].astype(np.int64)
    d = np.load(data_dir / WEB_FILES[source])
    jpeg, offsets, y = d["jpeg"], d["offsets"], d["y"].astype(np.int64)
    images = (cv2.imdecode(jpeg[offsets[i] : offsets[i + 1]], cv2.IMREAD_COLOR) for i in range(len(y)))
    if source == "rafdb":
        x = np.stack([_resized(img) for img in images])
    else:
        x = _detected_crops(images, len(y))
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, x=x, y=y)
    return x, y


def _resized(bgr: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)


def _detected_crops(images, n: int) -> np.ndarray:
    from fer_core.vision.crop import face_crop
    from fer_core.vision.detection import FaceDetector

    detector = FaceDetector(min_face_px=20)
    out = np.empty((n, FACE_SIZE, FACE_SIZE), np.uint8)
    found = 0
    for i, img in enumerate(images):
        pad = int(PAD_FRACTION * max(img.shape[:2]))
        padded = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        centre = np.array([padded.shape[1] / 2, padded.shape[0] / 2])
        faces = detector.detect(padded)
        if faces:
            # the face nearest the centre: the crop was made around it
            face = min(faces, key=lambda f: np.hypot(f.x + f.w / 2 - centre[0], f.y + f.h / 2 - centre[1]))
            out[i] = face_crop(padded, face.crop_box, eyes=face.eyes)
            found += 1
        else:
            out[i] = _resized(img)
        if i % 2000 == 1999:
            log(f"  AffectNet crops: {i + 1} of {n}, a face found in {found}")
    log(f"AffectNet re-cropped as the product crops: a face found in {found} of {n} (centre square elsewhere)")
    return out


def masked_targets(labels: np.ndarray, source: str) -> np.ndarray:
    """One-hot targets with -1 in the classes ``source`` never labels (read by ``training.masked_crossentropy``)."""
    t = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    for c in MISSING_CLASSES.get(source, ()):
        t[:, c] = -1.0
    return t

"""Labelled face sets for ``evaluate`` and the model cards."""

from __future__ import annotations

import numpy as np

from fer_core.constants import NUM_CLASSES
from fer_core.models.metrics import SKIP


def load_labelled(path: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read an evaluation .npz: ``x`` uint8 images, ``y`` labels (255 rows dropped), extras by name."""
    data = np.load(path)
    if "x" not in data.files or "y" not in data.files:
        raise ValueError(f"{path}: expected arrays 'x' and 'y'; found {data.files}")
    x, y = data["x"], data["y"].astype(np.int64)
    if x.dtype != np.uint8 or x.ndim not in (3, 4) or len(x) != len(y):
        raise ValueError(
            f"{path}: 'x' must be uint8 (N,H,W) or (N,H,W,3) with one label per image; "
            f"received {x.dtype} {x.shape} and {len(y)} labels"
        )
    keep = y != SKIP
    if (y[keep] >= NUM_CLASSES).any():
        raise ValueError(f"{path}: labels must be 0-6 (FER-2013 order) or 255; found {sorted(set(y[keep]))}")
    extras = {k: data[k][keep] for k in data.files if k not in ("x", "y") and data[k].shape[:1] == y.shape}
    return x[keep], y[keep], extras

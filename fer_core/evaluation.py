"""Accuracy, per-class recall, confusion matrix and calibration of predicted probabilities."""
from __future__ import annotations

import numpy as np

from .constants import EMOTIONS, NUM_CLASSES

SKIP = 255  # label value meaning "no label: leave out"


def metrics(y: np.ndarray, probs: np.ndarray | None, *, pred: np.ndarray | None = None) -> dict:
    """Scores of predictions against labels; ``pred`` = -1 counts as wrong (e.g. no face found)."""
    y = np.asarray(y, dtype=np.int64)
    if pred is None:
        pred = np.argmax(probs, axis=1)
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    ok = pred >= 0
    np.add.at(confusion, (y[ok], pred[ok]), 1)
    support = np.bincount(y, minlength=NUM_CLASSES)
    recall = {e: round(float(confusion[i, i] / support[i]), 4) if support[i] else None
              for i, e in enumerate(EMOTIONS)}
    out = {"n": int(len(y)), "accuracy": round(100.0 * float(np.mean(pred == y)) if len(y) else 0.0, 2),
           "per_class_recall": recall, "confusion": confusion.tolist()}
    if probs is not None and len(y):
        out["ece"] = round(expected_calibration_error(y, probs), 4)
        out["nll"] = round(float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1)))), 4)
    return out


def expected_calibration_error(y: np.ndarray, probs: np.ndarray, *, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def fit_temperature(y: np.ndarray, probs: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood (grid search: robust, no optimiser needed)."""
    from .analyzer import apply_temperature

    grid = np.round(np.arange(0.25, 5.001, 0.05), 2)
    nll = [float(-np.mean(np.log(np.clip(apply_temperature(probs, t)[np.arange(len(y)), y], 1e-12, 1))))
           for t in grid]
    return float(grid[int(np.argmin(nll))])


def load_labelled(path: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read an evaluation .npz: ``x`` uint8 images, ``y`` labels (255 rows dropped), extras by name."""
    data = np.load(path)
    if "x" not in data.files or "y" not in data.files:
        raise ValueError(f"{path}: expected arrays 'x' and 'y'; found {data.files}")
    x, y = data["x"], data["y"].astype(np.int64)
    if x.dtype != np.uint8 or x.ndim not in (3, 4) or len(x) != len(y):
        raise ValueError(f"{path}: 'x' must be uint8 (N,H,W) or (N,H,W,3) with one label per image; "
                         f"received {x.dtype} {x.shape} and {len(y)} labels")
    keep = y != SKIP
    if (y[keep] >= NUM_CLASSES).any():
        raise ValueError(f"{path}: labels must be 0-6 (FER-2013 order) or 255; found {sorted(set(y[keep]))}")
    extras = {k: data[k][keep] for k in data.files if k not in ("x", "y") and data[k].shape[:1] == y.shape}
    return x[keep], y[keep], extras

"""Accuracy, per-class recall, confusion matrix and calibration of predicted probabilities."""

from __future__ import annotations

import numpy as np

from fer_core.constants import EMOTIONS, NUM_CLASSES

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
    recall = {e: round(float(confusion[i, i] / support[i]), 4) if support[i] else None for i, e in enumerate(EMOTIONS)}
    out = {
        "n": int(len(y)),
        "accuracy": round(100.0 * float(np.mean(pred == y)) if len(y) else 0.0, 2),
        "per_class_recall": recall,
        "confusion": confusion.tolist(),
    }
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
    from fer_core.models.metrics import apply_temperature

    grid = np.round(np.arange(0.25, 5.001, 0.05), 2)
    nll = [float(-np.mean(np.log(np.clip(apply_temperature(probs, t)[np.arange(len(y)), y], 1e-12, 1)))) for t in grid]
    return float(grid[int(np.argmin(nll))])


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Soften (T > 1) or sharpen (T < 1) softmax outputs: softmax(log p / T)."""
    if temperature == 1.0:
        return probs
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

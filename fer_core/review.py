"""Accuracy on the user's own faces: each model and the ensemble against the faces a person reviewed.

Faces reviewed "not a face" or "unclear" are counted apart and left out of the accuracy. The 95% interval of
an accuracy is Wilson's score interval for a proportion (``scipy.stats.binomtest``), which stays inside
0-100% and is honest for small n.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from fer_core.constants import EMOTIONS, NOT_A_FACE, OPINIONS, UNCLEAR
from fer_core.models.metrics import metrics


def calibration_error(confidence: np.ndarray, correct: np.ndarray, *, bins: int = 10) -> float | None:
    """Expected calibration error: how far each model's confidence is from how often it is right, averaged
    over 10 confidence bins weighted by their faces (0: a confidence of 70% is right 70% of the time)."""
    if not len(confidence):
        return None
    edges = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = sum(
        abs(confidence[edges == b].mean() - correct[edges == b].mean()) * (edges == b).sum() for b in np.unique(edges)
    )
    return round(float(gap / len(confidence)), 4)


def accuracy(reviewed: pd.DataFrame, *, models=OPINIONS) -> dict:
    """{"n", "not_a_face", "unclear", "models": {model: {"accuracy", "ci95", "per_class_recall", "confusion", "ece"}}}
    from ``queries.reviewed_faces``: accuracy and its interval in percent, recall as fractions, the confusion
    matrix with true labels as rows (FER-2013 order), as ``evaluate`` prints them."""
    judged = reviewed[reviewed["review"].isin(EMOTIONS)]
    y = judged["review"].map({e: i for i, e in enumerate(EMOTIONS)}).to_numpy(dtype=np.int64)
    out = {
        "n": int(len(judged)),
        "not_a_face": int((reviewed["review"] == NOT_A_FACE).sum()),
        "unclear": int((reviewed["review"] == UNCLEAR).sum()),
        "models": {},
    }
    for model in models:
        pred = judged[f"label_{model}"].map({e: i for i, e in enumerate(EMOTIONS)}).fillna(-1).to_numpy(dtype=np.int64)
        scores = metrics(y, None, pred=pred)
        right = int((pred == y).sum())
        if len(y):
            ci = stats.binomtest(right, len(y)).proportion_ci(confidence_level=0.95, method="wilson")
            scores["ci95"] = [round(100 * ci.low, 2), round(100 * ci.high, 2)]
        else:
            scores["ci95"] = [None, None]
        out["models"][model] = {k: scores[k] for k in ("accuracy", "ci95", "per_class_recall", "confusion")}
        out["models"][model]["ece"] = calibration_error(judged[f"confidence_{model}"].to_numpy(float), pred == y)
    return out

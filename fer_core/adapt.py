"""Adaptation to a population (a tag): per-class calibration of each model, fitted on the faces its people
reviewed, and measured by cross-validation grouped by participant, never on faces it was fitted on.

Calibration rescales a model's log-probabilities by a temperature and adds one bias per class,
p' = softmax(log(p) / T + b), fitted by maximum likelihood with a small L2 penalty on b (SciPy's L-BFGS).
It can move the models' decisions where a population's faces are read as another class (one class that
looks different in this population), and cannot learn new features: that is fine-tuning, not done yet.

Each adaptation is a new version with its card (a JSON file in FER_HOME/adapted/): the tag, the method, its
data, the cross-validated and the original accuracy on the same faces, and the fitted parameters.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from fer_core import settings
from fer_core.constants import EMOTIONS, OPINIONS

METHODS = ("calibrate",)
FOLDS = 5
L2 = 0.01  # on the class biases: with few faces of a class, its bias stays small


def fit(probs: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(temperature, class biases) that maximise the likelihood of the labels ``y`` under the calibrated ``probs``."""
    logp = np.log(np.clip(probs, 1e-7, 1.0))

    def loss(theta):
        t, b = np.exp(theta[0]), theta[1:]
        z = log_softmax(logp / t + b, axis=1)
        return -z[np.arange(len(y)), y].mean() + L2 * float(b @ b)

    res = minimize(loss, np.zeros(1 + probs.shape[1]), method="L-BFGS-B")
    return float(np.exp(res.x[0])), res.x[1:]


def apply(probs: np.ndarray, temperature: float, bias: np.ndarray) -> np.ndarray:
    z = np.log(np.clip(probs, 1e-7, 1.0)) / temperature + np.asarray(bias)
    return np.exp(log_softmax(z, axis=1))


def group_folds(groups: np.ndarray, folds: int, seed: int = 0) -> list[np.ndarray]:
    """Test masks of ``folds`` folds that never split a group (a participant) between fitting and testing."""
    names = np.unique(groups)
    order = np.random.default_rng(seed).permutation(len(names))
    k = min(folds, len(names))
    return [np.isin(groups, names[order[i::k]]) for i in range(k)]


def cross_validate(probs: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray, *, folds: int = FOLDS) -> dict:
    """Per model: accuracy (percent) of the calibrated model on each held-out fold of participants, pooled,
    and of the original model on the same faces."""
    if len(np.unique(groups)) < 2:
        raise ValueError(
            "adaptation needs reviewed faces of at least 2 participants (it is tested on people it did not see)"
        )
    masks = group_folds(groups, folds)
    cv, base = {}, {}
    for model, p in probs.items():
        pred = np.empty(len(y), dtype=int)
        for test in masks:
            t, b = fit(p[~test], y[~test])
            pred[test] = apply(p[test], t, b).argmax(axis=1)
        cv[model] = round(100 * float((pred == y).mean()), 2)
        base[model] = round(100 * float((p.argmax(axis=1) == y).mean()), 2)
    return {"cv_accuracy": cv, "baseline_accuracy": base, "folds": len(masks), "n": int(len(y))}


def adapted_dir() -> Path:
    return settings.current().home / "adapted"


def adapt(reviewed, *, tag: str, method: str = "calibrate") -> dict:
    """Fit, cross-validate and save an adapted version for ``tag`` from its reviewed faces (a frame with
    ``review``, ``participant`` and ``p_<model>_<emotion>`` columns, as ``service.adapt`` builds it).
    Returns its card: {"version", "tag", "method", "cv_accuracy", "baseline_accuracy", "folds", "n", ...}."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS} (fine-tuning is not done yet); received {method!r}")
    judged = reviewed[reviewed["review"].isin(EMOTIONS)]
    if judged.empty:
        raise ValueError(f"no reviewed face with an emotion in the sessions tagged {tag!r}")
    y = judged["review"].map({e: i for i, e in enumerate(EMOTIONS)}).to_numpy()
    probs = {m: judged[[f"p_{m}_{e}" for e in EMOTIONS]].to_numpy(dtype=float) for m in OPINIONS}
    card = cross_validate(probs, y, judged["participant"].astype(str).to_numpy())
    params = {m: dict(zip(("temperature", "bias"), fit(p, y))) for m, p in probs.items()}
    now = datetime.now(timezone.utc)
    version = f"{tag}-{method}-{now:%Y%m%d%H%M%S}"
    card.update(
        version=version,
        tag=tag,
        method=method,
        participants=int(judged["participant"].nunique()),
        created_at=now.isoformat(timespec="seconds"),
        models={
            m: {"temperature": round(v["temperature"], 4), "bias": [round(float(b), 4) for b in v["bias"]]}
            for m, v in params.items()
        },
    )
    out = adapted_dir() / f"{version}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(card, indent=2))
    return card


def apply_card(card: dict, faces: list[dict]) -> list[dict]:
    """The analyzer's faces with each model's (and the ensemble's) probabilities, label and confidence as
    the adapted version gives them; the original faces are left as they are."""
    out = []
    for f in faces:
        preds = {}
        for model, p in f["predictions"].items():
            params = card["models"].get(model)
            if params is None:
                preds[model] = p
                continue
            probs = np.array([[p["probs"][e] for e in EMOTIONS]])
            new = apply(probs, params["temperature"], np.array(params["bias"]))[0]
            top = int(new.argmax())
            preds[model] = {
                "label": EMOTIONS[top],
                "confidence": float(new[top]),
                "probs": dict(zip(EMOTIONS, map(float, new))),
            }
        out.append({**f, "predictions": preds})
    return out


def adapted_versions(versions: dict[str, str], card: dict | None) -> dict[str, str]:
    """Each model's version as stored with its readings: the original's, "+" the adapted version's."""
    if card is None:
        return versions
    return {m: f"{v}+{card['version']}" if m in card["models"] else v for m, v in versions.items()}

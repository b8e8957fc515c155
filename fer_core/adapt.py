"""Adaptation to a population (a tag), fitted on the faces its people reviewed and measured by
cross-validation grouped by participant, never on faces it was fitted on. Two methods:

- calibrate: each model's log-probabilities rescaled by a temperature, plus one bias per class,
  p' = softmax(log(p) / T + b), fitted by maximum likelihood with a small L2 penalty on b (SciPy's L-BFGS).
  It moves the models' decisions where a population's faces are read as another class, from the stored
  probabilities alone.
- finetune: each model's classifier head (the final Dense layer, on the backbone's pooled features of the
  48x48 crop) refitted on the reviewed crops and their mirror images, pulled towards the shipped head by an
  L2 penalty chosen by an inner cross-validation on the fitting participants. It can also use what the
  features see that the probabilities hide; it needs the faces' pictures (media or faces kept).

Each adaptation is a new version with its card (a JSON file in FER_HOME/adapted/, and in the database for the
workers): the tag, the method, its data, the cross-validated and the original accuracy on the same faces, the
versions of the models it was fitted on (it is not applied to other weights), and the fitted parameters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from fer_core import settings
from fer_core.constants import EMOTIONS, ENSEMBLE, NUM_CLASSES, OPINIONS

METHODS = ("calibrate", "finetune")
FOLDS = 5
L2 = 0.01  # on the class biases: with few faces of a class, its bias stays small
# Penalties tried for a fine-tuned head's distance from the shipped one, after keeping the shipped head (None);
# the inner cross-validation picks one.
HEAD_PENALTIES = (None, 1.0, 0.1, 0.01)
INNER_FOLDS = 3
MIN_FACES = 10  # fewer reviewed faces measure nothing: one face of 9 held out moves the accuracy 11 points


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


def participant_folds(groups: np.ndarray, folds: int) -> list[np.ndarray]:
    """``group_folds`` for a measurement: it needs at least 2 participants, to test on people not fitted on."""
    if len(np.unique(groups)) < 2:
        raise ValueError(
            "adaptation needs reviewed faces of at least 2 participants (it is tested on people it did not see)"
        )
    return group_folds(groups, folds)


def cross_validate(probs: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray, *, folds: int = FOLDS) -> dict:
    """Per model: accuracy (percent) of the calibrated model on each held-out fold of participants, pooled,
    and of the original model on the same faces."""
    masks = participant_folds(groups, folds)
    cv, base = {}, {}
    for model, p in probs.items():
        pred = np.empty(len(y), dtype=int)
        for test in masks:
            t, b = fit(p[~test], y[~test])
            pred[test] = apply(p[test], t, b).argmax(axis=1)
        cv[model] = round(100 * float((pred == y).mean()), 2)
        base[model] = round(100 * float((p.argmax(axis=1) == y).mean()), 2)
    return {"cv_accuracy": cv, "baseline_accuracy": base, "folds": len(masks), "n": int(len(y))}


@dataclass(frozen=True)
class HeadData:
    """One model's reviewed faces as its classifier head sees them. A fine-tuned kernel differs from the
    shipped one by a change that lies in the span of the faces' features (the loss's gradient always does),
    so it is fitted in an orthonormal basis of that span: the same optimum, with at most as many unknowns
    per class as there are faces (ResNet50 has 2048 features)."""

    logits: np.ndarray  # (N, 7) the shipped head's logits of each face
    logits_mirrored: np.ndarray  # the same of its mirror image
    coords: np.ndarray  # (N, R) each face's features in the basis
    coords_mirrored: np.ndarray
    basis: np.ndarray  # (D, R)
    temperature: float  # the shipped head's, from its model card

    @classmethod
    def of(cls, features, mirrored, kernel: np.ndarray, bias: np.ndarray, temperature: float) -> "HeadData":
        f, fm = np.asarray(features, np.float64), np.asarray(mirrored, np.float64)
        _, s, vt = np.linalg.svd(np.concatenate([f, fm]), full_matrices=False)
        basis = vt[s > s[0] * 1e-6].T
        return cls(f @ kernel + bias, fm @ kernel + bias, f @ basis, fm @ basis, basis, temperature)

    def take(self, mask: np.ndarray) -> "HeadData":
        return HeadData(
            self.logits[mask],
            self.logits_mirrored[mask],
            self.coords[mask],
            self.coords_mirrored[mask],
            self.basis,
            self.temperature,
        )

    def probs(self, change: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """Each face's probabilities as the analyzer's flip TTA gives them (face and mirror image averaged)
        under the head changed by ``change`` ((R, 7) kernel change, (7,) bias change), or under the shipped
        head with its temperature (None)."""
        if change is None:
            z, zm = self.logits, self.logits_mirrored
        else:
            k, b = change
            z, zm = self.logits + self.coords @ k + b, self.logits_mirrored + self.coords_mirrored @ k + b
        p = (np.exp(log_softmax(z, axis=1)) + np.exp(log_softmax(zm, axis=1))) / 2
        return apply(p, self.temperature, np.zeros(NUM_CLASSES)) if change is None else p


def fit_change(data: HeadData, y: np.ndarray, penalty: float, start=None) -> tuple[np.ndarray, np.ndarray]:
    """The change of the head (kernel change in the basis (R, 7), bias change (7,)) of least mean
    cross-entropy on the faces and their mirror images (FER-2013's faces are trained flipped too), plus
    ``penalty`` times its squared size: the distance from the shipped head."""
    z = np.concatenate([data.logits, data.logits_mirrored])
    g = np.concatenate([data.coords, data.coords_mirrored])
    onehot = np.eye(NUM_CLASSES)[np.concatenate([y, y])]
    shape = (g.shape[1], NUM_CLASSES)

    def loss(theta):
        change, db = theta[: shape[0] * shape[1]].reshape(shape), theta[shape[0] * shape[1] :]
        logp = log_softmax(z + g @ change + db, axis=1)
        value = -(onehot * logp).sum() / len(z) + penalty * (float((change * change).sum()) + float(db @ db))
        grad = (np.exp(logp) - onehot) / len(z)
        return value, np.concatenate([(g.T @ grad + 2 * penalty * change).ravel(), grad.sum(axis=0) + 2 * penalty * db])

    x0 = np.zeros(shape[0] * shape[1] + NUM_CLASSES) if start is None else np.concatenate([start[0].ravel(), start[1]])
    res = minimize(loss, x0, jac=True, method="L-BFGS-B", options={"maxiter": 200})
    return res.x[: shape[0] * shape[1]].reshape(shape), res.x[shape[0] * shape[1] :]


def _path(data: HeadData, y: np.ndarray) -> list:
    """The change for each of ``HEAD_PENALTIES`` (None: none), strongest first, each started from the one before."""
    out, start = [], None
    for penalty in HEAD_PENALTIES:
        if penalty is not None:
            start = fit_change(data, y, penalty, start)
        out.append(start)
    return out


def choose_penalty(data: HeadData, y: np.ndarray, groups: np.ndarray) -> int:
    """Index in ``HEAD_PENALTIES`` of the penalty with the least held-out log-loss over folds of participants
    (the stronger, the closer to the shipped head, on a tie)."""
    masks = group_folds(groups, INNER_FOLDS, seed=1)
    if len(masks) < 2:
        return 0
    losses = np.zeros(len(HEAD_PENALTIES))
    for test in masks:
        held = data.take(test)
        for i, change in enumerate(_path(data.take(~test), y[~test])):
            p = held.probs(change)
            losses[i] -= np.log(np.clip(p[np.arange(len(p)), y[test]], 1e-7, 1)).sum()
    return int(np.argmin(losses))


def finetune_head(data: HeadData, y: np.ndarray, groups: np.ndarray) -> tuple:
    """(kernel change in the basis, bias change) fitted on all the given faces, and its penalty, chosen by an
    inner cross-validation over their participants; (None, None) where keeping the shipped head did best."""
    best = choose_penalty(data, y, groups)
    return _path(data, y)[best], HEAD_PENALTIES[best]


def cross_validate_heads(data: dict[str, HeadData], y: np.ndarray, groups: np.ndarray, *, folds: int = FOLDS) -> dict:
    """As ``cross_validate``, for heads fine-tuned per model (``data``). The ensemble is the mean of the
    models' probabilities, as the analyzer makes it."""
    masks = participant_folds(groups, folds)
    adapted, original = {}, {}
    for model, d in data.items():
        p = np.empty((len(y), NUM_CLASSES))
        for test in masks:
            change, _ = finetune_head(d.take(~test), y[~test], groups[~test])
            p[test] = d.take(test).probs(change)
        adapted[model] = p
        original[model] = d.probs(None)
    if len(data) > 1:
        adapted[ENSEMBLE] = np.mean(list(adapted.values()), axis=0)
        original[ENSEMBLE] = np.mean(list(original.values()), axis=0)

    def percent(p):
        return round(100 * float((p.argmax(axis=1) == y).mean()), 2)

    return {
        "cv_accuracy": {m: percent(p) for m, p in adapted.items()},
        "baseline_accuracy": {m: percent(p) for m, p in original.items()},
        "folds": len(masks),
        "n": int(len(y)),
    }


def head_names(weights_file: str | Path) -> tuple[str, str]:
    """Names of the classifier head's kernel (D, 7) and bias (7,) in a compact weights file: its only arrays of
    those shapes (the final Dense layer)."""
    with np.load(weights_file) as data:
        names = sorted(data.files)
        kernel = next(k for k in names if data[k].ndim == 2 and data[k].shape[1] == NUM_CLASSES)
        bias = next(k for k in names if data[k].shape == (NUM_CLASSES,))
    return kernel, bias


def shipped_head(weights_file: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The classifier head (kernel (D, 7), bias (7,)) of a shipped weights file."""
    kernel, bias = head_names(weights_file)
    with np.load(weights_file) as data:
        return data[kernel].astype(np.float64), data[bias].astype(np.float64)


def adapted_dir() -> Path:
    return settings.current().home / "adapted"


def adapt(
    reviewed,
    *,
    tag: str,
    method: str = "calibrate",
    versions: dict[str, str] | None = None,
    features: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    heads: dict[str, tuple[np.ndarray, np.ndarray, float]] | None = None,
) -> dict:
    """Fit, cross-validate and save an adapted version for ``tag`` from its reviewed faces (a frame with
    ``review``, ``participant`` and ``p_<model>_<emotion>`` columns, as ``service.adapt`` builds it), made
    for the models of ``versions``. "finetune" also needs, row for row, each model's pooled ``features`` of the
    faces and their mirror images, and its shipped ``heads`` (kernel, bias, temperature).
    Returns its card: {"version", "tag", "method", "cv_accuracy", "baseline_accuracy", "folds", "n", ...}."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; received {method!r}")
    judged = reviewed["review"].isin(EMOTIONS).to_numpy()
    if not judged.any():
        raise ValueError(
            f"no reviewed face with an emotion in the sessions tagged {tag!r} (faces marked unclear or not a face "
            "do not count): review some on the Review page first"
        )
    if judged.sum() < MIN_FACES:
        raise ValueError(
            f"adaptation needs at least {MIN_FACES} reviewed faces with an emotion; the sessions tagged {tag!r} "
            f"have {int(judged.sum())}: review more first"
        )
    classes = reviewed.loc[judged, "review"].unique()
    if len(classes) < 2:
        raise ValueError(
            f"every reviewed face of the sessions tagged {tag!r} is {classes[0]}: adapted on them, the models "
            "would learn only that everyone is; review faces of at least two emotions first"
        )
    y = reviewed.loc[judged, "review"].map({e: i for i, e in enumerate(EMOTIONS)}).to_numpy()
    groups = reviewed.loc[judged, "participant"].astype(str).to_numpy()
    if method == "calibrate":
        probs = {m: reviewed.loc[judged, [f"p_{m}_{e}" for e in EMOTIONS]].to_numpy(dtype=float) for m in OPINIONS}
        card = cross_validate(probs, y, groups)
        fitted = {m: dict(zip(("temperature", "bias"), fit(p, y))) for m, p in probs.items()}
        params = {
            m: {"temperature": round(v["temperature"], 4), "bias": [round(float(b), 4) for b in v["bias"]]}
            for m, v in fitted.items()
        }
    else:
        data = {m: HeadData.of(f[judged], fm[judged], *heads[m]) for m, (f, fm) in features.items()}
        card = cross_validate_heads(data, y, groups)
        params = {}
        for m, d in data.items():
            change, penalty = finetune_head(d, y, groups)
            if change is None:  # the shipped head did best on these participants: kept
                params[m] = {"penalty": None}
                continue
            kernel, bias = heads[m][0] + d.basis @ change[0], heads[m][1] + change[1]
            params[m] = {
                "penalty": penalty,
                "kernel": np.round(kernel, 6).tolist(),
                "bias": [round(float(b), 6) for b in bias],
            }
    now = datetime.now(timezone.utc)
    version = f"{tag}-{method}-{now:%Y%m%d%H%M%S}"
    card.update(
        version=version,
        tag=tag,
        method=method,
        participants=int(len(np.unique(groups))),
        created_at=now.isoformat(timespec="seconds"),
        base_versions=dict(versions or {}),
        models=params,
        verdict=verdict(card),
    )
    return card


def verdict(card: dict) -> str:
    """In words: does the adapted version beat the original on held-out participants? Said plainly when not."""
    cv, base = card["cv_accuracy"][ENSEMBLE], card["baseline_accuracy"][ENSEMBLE]
    if cv < base:
        return (
            f"worse than the original: the adapted ensemble is right on {cv:.1f}% of held-out participants' faces, "
            f"the original on {base:.1f}%; keep the original for this tag"
        )
    if cv < base + 1:
        return f"no better than the original ({cv:.1f}% against {base:.1f}% on held-out participants)"
    return f"better than the original: {cv:.1f}% against {base:.1f}% on held-out participants"


def save(card: dict) -> Path:
    """Write an adapted version's card to FER_HOME/adapted/VERSION.json."""
    out = adapted_dir() / f"{card['version']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(card, indent=2))
    return out


def usable(card: dict | None, versions: dict[str, str]) -> dict | None:
    """``card`` if it was fitted on the models of ``versions`` (cards made before versions were recorded
    count as fitted on them), else None: a head or calibration fitted on other weights does not fit these."""
    if card is None:
        return None
    made_for = card.get("base_versions") or {}
    return card if all(versions.get(m) == v for m, v in made_for.items()) else None


def heads_of(card: dict | None) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """The fine-tuned classifier heads of an adapted version, for ``Analyzer.analyze_file(heads=...)``."""
    if not card or card.get("method") != "finetune":
        return None
    return {
        m: (np.asarray(v["kernel"], np.float32), np.asarray(v["bias"], np.float32))
        for m, v in card["models"].items()
        if "kernel" in v
    }


def apply_card(card: dict, faces: list[dict]) -> list[dict]:
    """The analyzer's faces with each model's (and the ensemble's) probabilities, label and confidence as
    the adapted version gives them; the original faces are left as they are."""
    if card.get("method") == "finetune":  # the heads did their work in the analyzer
        return faces
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
    every = card.get("method") == "finetune"  # the ensemble is the mean of the fine-tuned models
    return {m: f"{v}+{card['version']}" if every or m in card["models"] else v for m, v in versions.items()}

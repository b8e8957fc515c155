"""Emotion shares of a group of readings corrected for the models' known confusions ("quantification").

A share is not one face's label but a group's: "31% of the expression in segment B was happy". The mean of a
model's probabilities is biased wherever the model errs systematically (fear read as sad, neutral as sad); the
literature on estimating class prevalence with a biased classifier corrects it with the classifier's behaviour
on faces whose truth is known (here: validation faces, or a population's reviewed faces):

- ``raw``: the mean probability (probabilistic classify-and-count); ``classify_count``: the share of top labels.
- ``acc``: adjusted classify-and-count (Forman, "Quantifying counts and costs via classification", Data Min.
  Knowl. Discov. 2008): the observed label shares are the true shares times the confusion matrix; solved for the
  true shares on the simplex (non-negative least squares with the sum held at 1), not by a plain inverse, which
  gives negative shares.
- ``pacc``: its probabilistic form (Bella et al., "Quantification via probability estimators", ICDM 2010): the
  mean probability vector given each true class in place of the confusion matrix.
- ``em``: prior re-estimation by expectation-maximisation on calibrated probabilities (Saerens, Latinne and
  Decaestecker, Neural Computation 2002), guarded for tiny groups by a pull towards the validation prior.

``interval`` gives 95% intervals that carry both the sampling of the group's units (people or readings) and the
uncertainty of the correction itself: each bootstrap draw also resamples the validation faces within each
validation set and re-weights the sets (a flat Dirichlet), since users' faces may resemble any of them.
Pure numpy and SciPy; no database here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

K = 7
ESTIMATORS = ("raw", "classify_count", "acc", "pacc", "em")
DEFAULT = "pacc"
MIN_READINGS = 20  # below this a group keeps its raw shares: too few faces to correct reliably
# Each class's row of the confusion is pulled towards "the model is right" as if by this many more faces of
# the class read correctly: a handful of reviewed faces then moves the shares little, hundreds move them fully
# (benchmarks/shares.py chose it over all three validation sets, none alone; docs/shares.md).
PRIOR_FACES = 10.0
_SUM_WEIGHT = 1e3  # how hard the least squares holds the shares' sum at 1


def raw(p: np.ndarray) -> np.ndarray:
    return np.asarray(p, float).mean(axis=0)


def classify_count(p: np.ndarray) -> np.ndarray:
    return np.bincount(np.asarray(p).argmax(axis=1), minlength=K) / max(len(p), 1)


def simplex_solve(m: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The shares q (q >= 0, sum 1) whose ``q @ m`` is closest to ``observed``."""
    a = np.vstack([m.T, np.full((1, K), _SUM_WEIGHT)])
    b = np.concatenate([observed, [_SUM_WEIGHT]])
    q, _ = nnls(a, b)
    total = q.sum()
    return q / total if total > 0 else np.full(K, 1 / K)


def confusion_rates(p_val: np.ndarray, y_val: np.ndarray, prior_faces: float = PRIOR_FACES) -> np.ndarray:
    """(7, 7): row i is how faces of true class i are labelled (top label), pulled towards the identity by
    ``prior_faces`` faces."""
    counts = np.eye(K) * prior_faces
    np.add.at(counts, (np.asarray(y_val), np.asarray(p_val).argmax(axis=1)), 1)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)


def mean_probs(p_val: np.ndarray, y_val: np.ndarray, prior_faces: float = PRIOR_FACES) -> np.ndarray:
    """(7, 7): row i is the mean probability vector of faces of true class i, pulled towards the identity by
    ``prior_faces`` faces (the identity alone where there are none: the shares stay as they are)."""
    y_val = np.asarray(y_val)
    out = np.eye(K) * prior_faces
    n = np.bincount(y_val, minlength=K).astype(float)
    np.add.at(out, y_val, np.asarray(p_val, float))
    empty = n + prior_faces == 0
    out[empty] = np.eye(K)[empty]
    return out / np.maximum(n + prior_faces, 1e-12)[:, None]


def acc(p: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    return simplex_solve(confusion, classify_count(p))


def pacc(p: np.ndarray, means: np.ndarray) -> np.ndarray:
    return simplex_solve(means, raw(p))


def em(p: np.ndarray, prior: np.ndarray, *, iters: int = 200, tol: float = 1e-6) -> np.ndarray:
    """Saerens et al.'s EM: re-weight each face's probabilities by new/old prior until the prior settles. With
    few faces the estimate is pulled towards ``prior`` (a pseudo-count of ``MIN_READINGS`` faces)."""
    p = np.clip(np.asarray(p, float), 1e-9, 1.0)
    prior = np.clip(np.asarray(prior, float), 1e-6, None)
    prior = prior / prior.sum()
    q = prior.copy()
    for _ in range(iters):
        post = p * (q / prior)
        post /= post.sum(axis=1, keepdims=True)
        new = (post.sum(axis=0) + MIN_READINGS * prior) / (len(p) + MIN_READINGS)
        if np.abs(new - q).max() < tol:
            return new
        q = new
    return q


@dataclass(frozen=True)
class Reference:
    """How one model labels faces whose truth is known: per validation set (or one population's reviewed
    faces), each face's probabilities and true class."""

    probs: tuple[np.ndarray, ...]  # per set, (N_s, 7)
    truth: tuple[np.ndarray, ...]  # per set, (N_s,)

    @classmethod
    def of(cls, probs: np.ndarray, truth: np.ndarray, sets: np.ndarray | None = None) -> Reference:
        sets = np.zeros(len(truth), int) if sets is None else np.asarray(sets)
        names = np.unique(sets)
        return cls(
            tuple(np.asarray(probs)[sets == s] for s in names), tuple(np.asarray(truth)[sets == s] for s in names)
        )

    def matrices(
        self, weights: np.ndarray | None = None, rng: np.random.Generator | None = None, prior_faces=PRIOR_FACES
    ):
        """(confusion rates, mean probabilities, prior), each set weighted by ``weights`` (default equal);
        with ``rng``, each set's faces resampled within each class (a bootstrap draw)."""
        weights = np.full(len(self.probs), 1 / len(self.probs)) if weights is None else np.asarray(weights)
        conf, means, prior = np.zeros((K, K)), np.zeros((K, K)), np.zeros(K)
        for w, p, y in zip(weights, self.probs, self.truth):
            if rng is not None:
                idx = np.concatenate(
                    [rng.choice(np.flatnonzero(y == c), (y == c).sum()) for c in range(K) if (y == c).any()]
                )
                p, y = p[idx], y[idx]
            conf += w * confusion_rates(p, y, prior_faces)
            means += w * mean_probs(p, y, prior_faces)
            prior += w * np.bincount(y, minlength=K) / len(y)
        return conf, means, prior


def estimate(p: np.ndarray, reference: Reference, method: str = DEFAULT, *, matrices=None) -> np.ndarray:
    """The 7 shares of the readings ``p`` (N, 7) by ``method``, corrected with ``reference``."""
    if method == "raw":
        return raw(p)
    if method == "classify_count":
        return classify_count(p)
    conf, means, prior = matrices if matrices is not None else reference.matrices()
    if method == "acc":
        return acc(p, conf)
    if method == "pacc":
        return pacc(p, means)
    if method == "em":
        return em(p, prior)
    raise ValueError(f"method must be one of {ESTIMATORS}; received {method!r}")


def _satisfaction_sign() -> np.ndarray:
    """Satisfaction as a weighting of the 7 shares: +1 for the positive emotions, -1 for the negative ones."""
    from fer_core.constants import EMOTIONS, NEGATIVE, POSITIVE

    return np.array([1.0 if e in POSITIVE else -1.0 if e in NEGATIVE else 0.0 for e in EMOTIONS])


class Corrector:
    """Corrected shares and their 95% intervals for many groups against one reference, with the reference's
    bootstrap draws made once (each draw resamples the validation faces and re-weights the sets).

    The point estimate uses the confusion pulled towards the identity (``PRIOR_FACES``); the draws use it as
    measured, so that an interval carries the whole uncertainty of the correction, and always holds its point:
    with the pull in the draws too, intervals covered the truth in 30-90% of simulated sessions, without it in
    89-98% (docs/shares.md)."""

    def __init__(self, reference: Reference, *, method: str = DEFAULT, draws: int = 200, seed: int = 0):
        self.reference, self.method, self.draws = reference, method, draws
        self.point = reference.matrices()
        rng = np.random.default_rng(seed)
        n_sets = len(reference.probs)
        self.matrices = [
            reference.matrices(rng.dirichlet(np.ones(n_sets)) if n_sets > 1 else None, rng, prior_faces=0.0)
            for _ in range(draws)
        ]
        self.seed = seed

    def shares(self, p: np.ndarray) -> np.ndarray:
        return estimate(p, self.reference, self.method, matrices=self.point)

    def mean_draws(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For a group summarised by its units' mean probability vectors (``units`` (U, 7): each person's
        mean): the corrected shares of their mean and ``draws`` bootstrap draws of them, each resampling the
        units and the reference. PACC works on the mean, so people weigh the same however long on screen."""
        units = np.asarray(units, float)
        point = simplex_solve(self.point[1], units.mean(axis=0))
        rng = np.random.default_rng(self.seed + 2)
        out = np.empty((self.draws, K))
        for b, mats in enumerate(self.matrices):
            pick = units[rng.integers(0, len(units), len(units))]
            out[b] = simplex_solve(mats[1], pick.mean(axis=0))
        return point, out

    def of_units(self, units: np.ndarray) -> dict:
        """``mean_draws`` as the study reports a group: {"value", "low", "high"} per emotion and for
        satisfaction (P(happy) + P(surprise) - the negative emotions, of the corrected shares)."""
        from fer_core.constants import EMOTIONS

        sign = _satisfaction_sign()
        point, draws = self.mean_draws(units)
        low, high = np.percentile(draws, [2.5, 97.5], axis=0)
        low, high = np.minimum(low, point), np.maximum(high, point)
        sat_low, sat_high = np.percentile(draws @ sign, [2.5, 97.5])
        sat_low, sat_high = min(sat_low, point @ sign), max(sat_high, point @ sign)
        return {
            "value": {**dict(zip(EMOTIONS, point)), "satisfaction": float(point @ sign)},
            "low": {**dict(zip(EMOTIONS, low)), "satisfaction": float(sat_low)},
            "high": {**dict(zip(EMOTIONS, high)), "satisfaction": float(sat_high)},
        }

    def measures(self, units: np.ndarray, matrices=None) -> np.ndarray:
        """The corrected shares of the units' mean (7) and their satisfaction (the 8th value)."""
        q = simplex_solve((matrices or self.point)[1], np.asarray(units, float).mean(axis=0))
        return np.concatenate([q, [q @ _satisfaction_sign()]])

    def compare(self, a: np.ndarray, b: np.ndarray, *, permutations: int = 1000, seed: int = 0) -> dict:
        """Two groups' units (rows: each person's mean probabilities) compared on their corrected shares, as
        ``stats.compare`` does on raw ones: per emotion and for satisfaction (the last column) the difference
        (a - b), and its 95% interval and two-sided p-value from one permutation test (units shuffled
        between the groups, each side corrected anew; the interval inverts the test, so p < 0.05 exactly
        when it leaves 0 out); ``p_any`` over all emotions together (the sum of the absolute differences).
        Intervals and p-values are NaN when a group has fewer than two units."""
        from fer_core.statistics.stats import LEVEL, inverted_permutation, splits

        a, b = np.asarray(a, float), np.asarray(b, float)
        measures = self.measures
        diff = measures(a) - measures(b)
        nan = np.full_like(diff, np.nan)
        if len(a) < 2 or len(b) < 2:
            return {"difference": diff, "low": nan, "high": nan.copy(), "p": nan.copy(), "p_any": float("nan")}
        rng = np.random.default_rng(seed)
        pooled = np.concatenate([a, b])
        in_first = splits(len(a), len(b), n_resamples=permutations, rng=rng)
        shuffled = np.array([measures(pooled[s]) - measures(pooled[~s]) for s in in_first])
        p, low, high = inverted_permutation(diff, shuffled, in_first, len(a), level=LEVEL)
        spread = np.abs(shuffled[:, :K]).sum(axis=1)
        p_any = (1 + (spread >= np.abs(diff[:K]).sum() - 1e-12).sum()) / (len(in_first) + 1)
        return {"difference": diff, "low": low, "high": high, "p": p, "p_any": float(p_any)}

    def interval(self, p: np.ndarray, units: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(shares, low, high): the point estimate and the 2.5th and 97.5th percentiles over bootstrap draws
        that resample the group's ``units`` (people: every reading of a person goes together; default each
        reading alone) and the reference."""
        p = np.asarray(p, float)
        units = np.arange(len(p)) if units is None else np.asarray(units)
        names, inverse = np.unique(units, return_inverse=True)
        members = [np.flatnonzero(inverse == i) for i in range(len(names))]
        rng = np.random.default_rng(self.seed + 1)
        out = np.empty((self.draws, K))
        for b, mats in enumerate(self.matrices):
            pick = rng.integers(0, len(members), len(members))
            rows = np.concatenate([members[i] for i in pick]) if len(members) else np.arange(0)
            out[b] = estimate(p[rows], self.reference, self.method, matrices=mats)
        low, high = np.percentile(out, [2.5, 97.5], axis=0)
        q = self.shares(p)
        return q, np.minimum(low, q), np.maximum(high, q)


# --- the shipped reference: the models on the validation faces -----------------------------------------------

REFERENCE_FILE = "validation_probs.npz"  # made by scripts/validation_probs.py, beside the model cards


def face_hashes(x: np.ndarray) -> np.ndarray:
    """An 8-byte hash of each face's 48x48 pixels (to know a face again, whatever set it comes in)."""
    from fer_core.vision.crop import to_face_size

    faces = to_face_size(np.asarray(x))
    return np.array([hashlib.blake2b(f.tobytes(), digest_size=8).digest() for f in faces], dtype="S8")


def shipped(weights_dir: Path | None = None) -> dict | None:
    """The validation faces' probabilities per model (``scripts/validation_probs.py``) in ``weights_dir``
    (default FER_WEIGHTS_DIR, else weights/), or None if missing."""
    from fer_core import settings

    path = Path(weights_dir or settings.current().weights_dir) / REFERENCE_FILE
    if not path.is_file():
        return None
    data = np.load(path)
    return {
        "y": data["y"].astype(int),
        "set": data["set"].astype(int),
        "sets": [str(s) for s in data["sets"]],
        "hash": data["hash"],
        "versions": json.loads(str(data["versions"])),
        "probs": {k: data[k].astype(float) for k in data.files if k not in ("y", "set", "sets", "hash", "versions")},
    }


def reference_of(data: dict, model: str, *, keep: np.ndarray | None = None) -> Reference:
    """``model``'s Reference from ``shipped`` data, its faces limited to ``keep`` (a mask)."""
    keep = np.ones(len(data["y"]), bool) if keep is None else keep
    return Reference.of(data["probs"][model][keep], data["y"][keep], data["set"][keep])


# --- simulated sessions (the benchmark and `evaluate --mixes`) -----------------------------------------------


def mixes(
    probs: dict[str, np.ndarray],
    y: np.ndarray,
    correctors: dict[str, Corrector],
    *,
    sessions: int,
    size: int,
    seed: int = 0,
    found: np.ndarray | None = None,
    methods: tuple[str, ...] = (),
) -> dict:
    """Sessions of ``size`` faces drawn from labelled faces with class shares from a flat Dirichlet over the
    classes present (seeded); per model: the mean absolute error of the raw and the corrected shares in
    percentage points (over sessions and classes, against each session's true shares) and the coverage of the
    corrected shares' 95% interval; ``methods`` adds each named estimator's error. Faces not ``found`` (by
    the detector) are drawn but missing from the session, as in the product."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    found = np.ones(len(y), bool) if found is None else np.asarray(found)
    present = [c for c in range(K) if (y == c).any()]
    pools = {c: np.flatnonzero(y == c) for c in present}
    errors = {m: {"raw": [], "corrected": [], **{e: [] for e in methods}} for m in probs}
    covered = {m: [] for m in probs}
    for _ in range(sessions):
        share = np.zeros(K)
        share[present] = rng.dirichlet(np.ones(len(present)))
        counts = rng.multinomial(size, share)
        idx = np.concatenate([rng.choice(pools[c], n) for c, n in enumerate(counts) if n])
        idx = idx[found[idx]]
        if not len(idx):
            continue
        true = np.bincount(y[idx], minlength=K) / len(idx)
        for m, p in probs.items():
            q, low, high = correctors[m].interval(p[idx])
            errors[m]["raw"].append(np.abs(raw(p[idx]) - true))
            errors[m]["corrected"].append(np.abs(q - true))
            for e in methods:
                errors[m][e].append(
                    np.abs(estimate(p[idx], correctors[m].reference, e, matrices=correctors[m].point) - true)
                )
            covered[m].append((low - 1e-9 <= true) & (true <= high + 1e-9))
    out = {}
    for m in probs:
        out[m] = {f"{k}_mae": round(100 * float(np.mean(v)), 2) for k, v in errors[m].items() if v}
        out[m]["coverage"] = round(float(np.mean(covered[m])), 4) if covered[m] else None
    return out

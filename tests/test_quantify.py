"""The share estimators on generated data whose truth is known: a classifier with a known, systematic
confusion, validation faces labelled with it, and groups whose class mix differs from the validation set's."""

from __future__ import annotations

import numpy as np
import pytest

from fer_core.constants import EMOTIONS
from fer_core.statistics import quantify as Q

from conftest import needs_data, needs_weights


def _classifier(rng, y: np.ndarray, *, mix: np.ndarray) -> np.ndarray:
    """Probabilities for faces of true classes ``y``: a face of class i looks like class j with probability
    mix[i, j] (its top label), with probabilities spread as a softmax around it."""
    seen = np.array([rng.choice(Q.K, p=mix[c]) for c in y])
    logits = rng.normal(0, 1.0, (len(y), Q.K))
    logits[np.arange(len(y)), seen] += 2.5
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    mix = np.eye(Q.K) * 0.7 + 0.3 / Q.K
    mix[2] = [0.05, 0.0, 0.35, 0.0, 0.35, 0.25, 0.0]  # fear read as sad or surprise
    mix[6] = [0.0, 0.0, 0.0, 0.05, 0.4, 0.0, 0.55]  # neutral read as sad
    mix /= mix.sum(axis=1, keepdims=True)
    y_val = rng.integers(0, Q.K, 3000)
    return rng, mix, Q.Reference.of(_classifier(rng, y_val, mix=mix), y_val)


def _group(rng, mix, shares: np.ndarray, n: int):
    y = rng.choice(Q.K, n, p=shares)
    return _classifier(rng, y, mix=mix), np.bincount(y, minlength=Q.K) / n


def test_corrected_shares_recover_a_shifted_mix_better_than_the_raw_mean(world):
    rng, mix, ref = world
    truth = np.array([0.05, 0.0, 0.30, 0.15, 0.05, 0.05, 0.40])  # much fear and neutral: where the model errs
    errors = {m: [] for m in Q.ESTIMATORS}
    for _ in range(30):
        p, true = _group(rng, mix, truth, 300)
        for m in Q.ESTIMATORS:
            q = Q.estimate(p, ref, m)
            assert q.min() >= 0 and q.sum() == pytest.approx(1.0)  # on the simplex, never negative
            errors[m].append(np.abs(q - true).mean())
    mae = {m: 100 * np.mean(e) for m, e in errors.items()}
    assert mae["pacc"] < 0.5 * mae["raw"] and mae["acc"] < 0.5 * mae["classify_count"], mae


def test_em_recovers_a_pure_prior_shift_with_calibrated_probabilities():
    rng = np.random.default_rng(3)
    centres = rng.normal(0, 2.0, (Q.K, 4))

    def faces(y):
        return centres[y] + rng.normal(0, 1.0, (len(y), 4))

    def posterior(x, prior):  # the exact Bayes posterior: calibrated for ``prior``
        logl = -0.5 * ((x[:, None, :] - centres[None]) ** 2).sum(axis=2)
        p = np.exp(logl - logl.max(axis=1, keepdims=True)) * prior
        return p / p.sum(axis=1, keepdims=True)

    prior = np.full(Q.K, 1 / Q.K)
    truth = np.array([0.4, 0.02, 0.02, 0.4, 0.06, 0.05, 0.05])
    y = rng.choice(Q.K, 2000, p=truth)
    q = Q.em(posterior(faces(y), prior), prior)
    assert np.abs(q - truth).max() < 0.03


def test_intervals_cover_the_truth_about_95_percent_of_the_time(world):
    rng, mix, ref = world
    corrector = Q.Corrector(ref, draws=100)
    hits = []
    for _ in range(40):
        truth = rng.dirichlet(np.ones(Q.K))
        p, true = _group(rng, mix, truth, 100)
        q, low, high = corrector.interval(p)
        assert np.all(low <= q + 1e-9) and np.all(q <= high + 1e-9)
        hits += list((low - 1e-9 <= true) & (true <= high + 1e-9))
    assert 0.88 <= np.mean(hits) <= 1.0, np.mean(hits)


def test_people_are_resampled_whole_and_tiny_inputs_do_not_break(world):
    rng, mix, ref = world
    corrector = Q.Corrector(ref, draws=50)
    people = [_group(rng, mix, np.eye(Q.K)[c] * 0.8 + 0.2 / Q.K, 20)[0] for c in (0, 3, 5)]  # 3 unlike people
    p = np.concatenate(people)
    q, low, high = corrector.interval(p, units=np.repeat(np.arange(3), 20))
    q1, low1, high1 = corrector.interval(p)  # 60 readings
    assert (high - low).mean() > (high1 - low1).mean()  # three people say less than sixty faces
    q, low, high = corrector.interval(p[:1])
    assert q.sum() == pytest.approx(1.0) and np.isfinite(low).all()
    with pytest.raises(ValueError, match="method must be one of"):
        Q.estimate(p, ref, "magic")


# ----------------------------------------------------------------------------- the contract: evaluate --mixes
@needs_weights
@needs_data
def test_comparing_groups_on_corrected_shares_finds_the_true_difference_and_keeps_false_alarms_rare(world):
    _, mix, ref = world
    rng = np.random.default_rng(11)
    fixer = Q.Corrector(ref, draws=200)
    people = 25

    def units(shares):  # each person's mean probabilities over 12 readings
        return np.array([_group(rng, mix, shares, 12)[0].mean(axis=0) for _ in range(people)])

    calm = np.array([0.05, 0.0, 0.05, 0.30, 0.10, 0.10, 0.40])
    afraid = np.array([0.05, 0.0, 0.35, 0.20, 0.10, 0.10, 0.20])
    res = fixer.compare(units(afraid), units(calm), permutations=500)
    fear = EMOTIONS.index("fear")
    raw = units(afraid).mean(axis=0)[fear] - units(calm).mean(axis=0)[fear]
    # the models read fear as sad or surprise: the raw difference hides most of the 30 points, the corrected not
    assert raw < 0.15 and abs(res["difference"][fear] - 0.30) < 0.1, (raw, res["difference"][fear])
    assert res["low"][fear] <= 0.30 <= res["high"][fear] and res["p"][fear] < 0.01 and res["p_any"] < 0.01
    assert len(res["difference"]) == Q.K + 1  # and satisfaction
    for small in (fixer.compare(units(afraid)[:6], units(calm)[:7], permutations=500), res):
        leaves_out_zero = (small["low"] > 0) | (small["high"] < 0)
        assert (leaves_out_zero == (small["p"] < 0.05)).all(), small  # one test gives both
    quick = Q.Corrector(ref, draws=20)
    same = [quick.compare(units(calm), units(calm), permutations=200)["p_any"] for _ in range(40)]
    assert sum(p < 0.05 for p in same) <= 6, same  # one population split in two "differs" about 5% of the time
    tiny = fixer.compare(units(calm)[:1], units(calm))
    assert np.isnan(tiny["p_any"]) and np.isnan(tiny["low"]).all()


def test_evaluate_reports_raw_and_corrected_errors_of_simulated_sessions(tmp_path):
    import json
    import subprocess
    import sys

    from conftest import DATA_DIR, REPO

    data = np.load(DATA_DIR / "expw_test.npz")
    pick = np.random.default_rng(0).choice(len(data["y"]), 210, replace=False)
    small = tmp_path / "small.npz"
    np.savez(small, x=data["x"][pick], y=data["y"][pick])
    out = subprocess.run(
        [sys.executable, "-m", "fer_core", "evaluate", str(small), "--mixes", "20", "--mix-size", "30", "--seed", "1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(result["mixes"]) == {"resnet50", "vgg16", "ensemble"}
    for model, r in result["mixes"].items():
        assert set(r) == {"raw_mae", "corrected_mae", "coverage"}, r
        assert 0 < r["raw_mae"] < 30 and 0 < r["corrected_mae"] < 30 and 0 <= r["coverage"] <= 1
    assert result["mixes_reference"]["left_out_as_in_data"] == 210  # these faces never correct themselves


# ----------------------------------------------------------------------------- in the product
@needs_weights
@needs_data
def test_a_population_with_reviewed_faces_gets_corrected_shares_and_the_switch_gives_the_raw_ones(
    tmp_path, monkeypatch
):
    from test_adapt import CLASSES, _population

    from fer_core import Analyzer, AnalyzerConfig, service
    from fer_core.storage import queries
    from fer_core.storage.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'fer.db'}")
    upgrade(engine)
    monkeypatch.setenv("FER_HOME", str(tmp_path))
    # this population's anger looks like what the models learnt as sadness; its faces are reviewed
    _population(engine, Analyzer(AnalyzerConfig()), tag="shifted", angry_looks_like="sad", seed=5)
    session = int(queries.sessions_overview(engine)["id"].iloc[0])
    truth = np.array([0.25 if e in CLASSES else 0.0 for e in EMOTIONS])
    from fer_core import report

    shares = report.gather(engine, session)
    assert "192 reviewed faces" in shares["correction"]
    fixed, raw = shares["shares"]["ensemble"], shares["shares"]["ensemble"]["raw"]
    assert fixed["corrected"]

    def error(values):
        return np.abs(np.array([values[e] for e in EMOTIONS]) - truth).mean()

    # a third less error at least (0.64 of the raw error with the weights of 2026-12-07; below 0.6 with the
    # earlier ones, whose raw shares were further off)
    assert error(fixed["value"]) < 0.7 * error(raw["value"]), (error(fixed["value"]), error(raw["value"]))
    for e in EMOTIONS:
        assert fixed["low"][e] - 1e-6 <= fixed["value"][e] <= fixed["high"][e] + 1e-6
    # each photo alone has 16 readings: too few to correct, and the records say so; the switch gives raw shares
    by_file = service.session_summary(session, by="file", engine=engine)
    assert not any(r["corrected"] for r in by_file) and "fewer than 20 readings" in by_file[0]["correction"]
    assert by_file[0]["shares"] == by_file[0]["raw_shares"]
    off = service.session_summary(session, by="file", engine=engine, correct=False)
    assert off[0]["correction"] == "raw mean probabilities"

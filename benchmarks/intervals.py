"""How honest are the study's intervals and p-values? Simulated groups with known truth.

1. Coverage of the 95% interval of a share, by bootstrap over people, for groups of 5, 10 and 30 people.
2. Coverage of the 95% interval of a difference between two groups of 3, 6, 10 and 30 people; how often
   "p < 0.05" and "the interval leaves 0 out" disagree (they must never); false-positive rate at p < 0.05 (two
   groups drawn from one population).
3. One person: readings that follow each other (an expression lasts seconds) resampled one by one against
   blocks of 2 s (fer_core.statistics.stats.BLOCK_S), coverage of the person's long-run mean.

    python benchmarks/intervals.py [--reps 400]

Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from fer_core.statistics import stats

ALPHA = np.array([2.0, 0.5, 1.0, 3.0, 1.5, 1.0, 4.0])  # a population of people's mean shares


def coverage(n_people: int, reps: int, rng) -> float:
    truth = ALPHA / ALPHA.sum()
    hits = []
    for _ in range(reps):
        _, low, high = stats.mean_ci(rng.dirichlet(ALPHA, size=n_people), seed=int(rng.integers(1 << 31)))
        hits.append((low <= truth) & (truth <= high))
    return float(np.mean(hits))


def difference_coverage(n_a: int, n_b: int, reps: int, rng) -> dict:
    other = ALPHA.copy()
    other[3] += 2.0
    truth = ALPHA / ALPHA.sum() - other / other.sum()
    hits, disagree = [], []
    for _ in range(reps):
        res = stats.compare(
            rng.dirichlet(ALPHA, size=n_a),
            rng.dirichlet(other, size=n_b),
            seed=int(rng.integers(1 << 31)),
            n_resamples=999,
        )
        hits.append((res["low"][:7] <= truth) & (truth <= res["high"][:7]))
        excludes_zero = (res["low"] > 0) | (res["high"] < 0)
        disagree.append(np.mean(excludes_zero != (res["p"] < 0.05)))
    return {"coverage": round(float(np.mean(hits)), 3), "p_and_interval_disagree": float(np.mean(disagree))}


def false_positives(n_a: int, n_b: int, reps: int, rng) -> dict:
    each, any_ = [], []
    for _ in range(reps):
        res = stats.compare(
            rng.dirichlet(ALPHA, size=n_a),
            rng.dirichlet(ALPHA, size=n_b),
            seed=int(rng.integers(1 << 31)),
            n_resamples=999,
        )
        each.append(np.mean(res["p"][:7] < 0.05))
        any_.append(res["p_any"] < 0.05)
    return {"per_emotion": float(np.mean(each)), "any_emotion": float(np.mean(any_))}


def one_person(reps: int, rng, *, seconds: float = 60.0, fps: float = 2.0, memory_s: float = 1.5) -> dict:
    """A person's P(happy) over ``seconds`` as an AR(1) series around 0.4 whose correlation fades over
    ``memory_s`` seconds; the interval should cover 0.4. "readings": resampled one by one; "blocks_2s": the
    bootstrap over fixed 2 s blocks (the method before 2026-12-07); "blocks": what the product does now
    (blocks as long as the readings' memory, Student's t over them)."""
    n = int(seconds * fps)
    phi = np.exp(-1.0 / (memory_s * fps))
    t = np.arange(n) / fps
    hits = {"readings": [], "blocks_2s": [], "blocks": []}
    for _ in range(reps):
        e = np.zeros(n)
        for i in range(1, n):
            e[i] = phi * e[i - 1] + rng.normal(0, 0.1)
        x = (0.4 + e)[:, None]
        seed = int(rng.integers(1 << 31))
        for name, units, blocks in (
            ("readings", x, False),
            ("blocks_2s", stats.block_means(x, t, block_s=stats.BLOCK_S), False),
            ("blocks", stats.block_means(x, t), True),
        ):
            _, low, high = stats.mean_ci(units, seed=seed, blocks=blocks)
            hits[name].append(low[0] <= 0.4 <= high[0])
    return {k: float(np.mean(v)) for k, v in hits.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=400)
    args = ap.parse_args()
    rng = np.random.default_rng(2026)
    for n in (5, 10, 30):
        print(json.dumps({"measure": "coverage_95", "people": n, "coverage": round(coverage(n, args.reps, rng), 3)}))
    for n_a, n_b in ((3, 3), (6, 6), (7, 6), (10, 10), (30, 30)):
        cov = difference_coverage(n_a, n_b, args.reps, rng)
        print(json.dumps({"measure": "difference_coverage_95", "people": [n_a, n_b], **cov}))
        fp = false_positives(n_a, n_b, args.reps, rng)
        print(json.dumps({"measure": "false_positive_rate_p<0.05", "people": [n_a, n_b], **fp}))
    for seconds, memory in ((60, 0.5), (60, 1.5), (60, 3.0), (20, 1.5)):
        cov = one_person(args.reps, rng, seconds=seconds, memory_s=memory)
        print(json.dumps({"measure": "one_person_coverage_95", "seconds": seconds, "memory_s": memory, **cov}))


if __name__ == "__main__":
    main()

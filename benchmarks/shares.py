"""How close each share estimator comes to the truth, on simulated sessions drawn from labelled faces.

    python scripts/validation_probs.py        # once: the models' probabilities on the validation faces
    python benchmarks/shares.py [--sessions 300] [--sizes 30,100,300] [--seed 0] [--out FILE.jsonl]

For each validation set (FER-2013 PublicTest, ExpW test, SFEW test) and each session size, ``--sessions``
sessions draw faces of one half of that set with class shares from a flat Dirichlet over its classes
(seeded). Each estimator of fer_core/statistics/quantify.py corrects them with the models' behaviour learnt on 50-400
reviewed faces of the other half (a population's own reviewed faces) or on the *other* validation sets
(faces unlike the ones corrected); printed: the mean absolute error of the 7 shares in percentage points, and
the coverage of the default estimator's 95% interval. One JSON line per (set, reference, size, model), then a
table for the ensemble.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from fer_core.statistics import quantify  # noqa: E402


def scenarios(data: dict, s: int, rng: np.random.Generator):
    """(name, reference mask, session mask) for validation set ``s``: its faces split in two halves, sessions
    drawn from one; references: n reviewed faces of the other half (the population's own faces, as the Review
    page gathers them), or the other validation sets (faces unlike these)."""
    here = np.flatnonzero(data["set"] == s)
    half = rng.permutation(here)
    refs, sessions = half[: len(half) // 2], half[len(half) // 2 :]
    session_mask = np.isin(np.arange(len(data["y"])), sessions)
    for n in REVIEWED:
        if n <= len(refs):
            yield f"{n} reviewed", np.isin(np.arange(len(data["y"])), rng.choice(refs, n, replace=False)), session_mask
    yield "other sets", data["set"] != s, session_mask


REVIEWED = (50, 100, 200, 400)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=3, help="reference draws per scenario (sessions split among them)")
    ap.add_argument("--sizes", default="30,100,300")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--draws", type=int, default=200, help="bootstrap draws of each interval")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    data = quantify.shipped(ROOT / "weights")
    if data is None:
        raise SystemExit("weights/validation_probs.npz is missing: run python scripts/validation_probs.py")
    methods = tuple(e for e in quantify.ESTIMATORS if e != "raw")
    rows = []
    for s, target in enumerate(data["sets"]):
        parts: dict[tuple, list[dict]] = {}
        for rep in range(args.repeats):
            rng = np.random.default_rng(args.seed + 1000 * rep + s)
            for name, ref_mask, session_mask in scenarios(data, s, rng):
                correctors = {
                    m: quantify.Corrector(quantify.reference_of(data, m, keep=ref_mask), draws=args.draws, seed=rep)
                    for m in data["probs"]
                }
                probs = {m: p[session_mask] for m, p in data["probs"].items()}
                for size in map(int, args.sizes.split(",")):
                    result = quantify.mixes(
                        probs,
                        data["y"][session_mask],
                        correctors,
                        sessions=max(1, args.sessions // args.repeats),
                        size=size,
                        seed=args.seed + rep,
                        methods=methods,
                    )
                    for model, r in result.items():
                        parts.setdefault((name, size, model), []).append(r)
        for (name, size, model), rs in parts.items():
            mean = {k: round(float(np.mean([r[k] for r in rs])), 3) for k in rs[0]}
            row = {"set": target, "reference": name, "size": size, "model": model, **mean}
            rows.append(row)
            print(json.dumps(row), flush=True)
    ens = [r for r in rows if r["model"] == "ensemble"]
    cols = ["raw_mae", "classify_count_mae", "acc_mae", "pacc_mae", "em_mae", "corrected_mae", "coverage"]
    head = " ".join(f"{c[:-4] if c.endswith('_mae') else c:>9}" for c in cols)
    print(f"\n{'set':19} {'reference':13} {'size':>4} {head} {'ratio':>6}")
    for r in ens:
        vals = " ".join(f"{r.get(c, float('nan')):9.2f}" for c in cols)
        print(f"{r['set']:19} {r['reference']:13} {r['size']:4d} {vals} {r['corrected_mae'] / r['raw_mae']:6.2f}")
    print(f"(ensemble; errors in percentage points; corrected = {quantify.DEFAULT}; coverage of its 95% interval)")
    if args.out:
        with open(args.out, "a") as f:
            for r in rows:
                extra = {"sessions": args.sessions, "seed": args.seed, "date": time.strftime("%Y-%m-%d")}
                f.write(json.dumps({**r, **extra}) + "\n")


if __name__ == "__main__":
    main()

"""How close each share estimator comes to the truth, on simulated sessions drawn from labelled faces.

    python scripts/validation_probs.py        # once: the models' probabilities on the validation faces
    python benchmarks/shares.py [--sessions 300] [--sizes 30,100,300] [--seed 0] [--out FILE.jsonl]

For each validation set (FER-2013 PublicTest, ExpW test, SFEW test) and each session size, ``--sessions``
sessions draw faces of that set with class shares from a flat Dirichlet over its classes (seeded). Each
estimator of fer_core/quantify.py corrects them with the models' behaviour learnt on the *other* sets (faces
unlike the ones corrected) and on the set itself (in-sample, the best case); printed: the mean absolute error
of the 7 shares in percentage points, and the coverage of the default estimator's 95% interval. One JSON line
per (set, reference, size, model), then a table for the ensemble.
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
from fer_core import quantify  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=300)
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
        here = data["set"] == s
        for source, keep in (("other sets", ~here), ("own set", here)):
            t0 = time.perf_counter()
            correctors = {
                m: quantify.Corrector(quantify.reference_of(data, m, keep=keep), draws=args.draws)
                for m in data["probs"]
            }
            for size in map(int, args.sizes.split(",")):
                probs = {m: p[here] for m, p in data["probs"].items()}
                result = quantify.mixes(
                    probs,
                    data["y"][here],
                    correctors,
                    sessions=args.sessions,
                    size=size,
                    seed=args.seed,
                    methods=methods,
                )
                for model, r in result.items():
                    row = {"set": target, "reference": source, "size": size, "model": model, **r}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
            print(f"# {target}, {source}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    ens = [r for r in rows if r["model"] == "ensemble"]
    cols = ["raw_mae", "classify_count_mae", "acc_mae", "pacc_mae", "em_mae", "corrected_mae", "coverage"]
    print(
        f"\n{'set':20} {'reference':11} {'size':>4} "
        + " ".join(f"{c[:-4] if c.endswith('_mae') else c:>14}" for c in cols)
    )
    for r in ens:
        print(
            f"{r['set']:20} {r['reference']:11} {r['size']:4d} "
            + " ".join(f"{r.get(c, float('nan')):14.2f}" for c in cols)
        )
    print(f"(ensemble; errors in percentage points; corrected = {quantify.DEFAULT}; coverage of its 95% interval)")
    if args.out:
        with open(args.out, "a") as f:
            for r in rows:
                f.write(
                    json.dumps({**r, "sessions": args.sessions, "seed": args.seed, "date": time.strftime("%Y-%m-%d")})
                    + "\n"
                )


if __name__ == "__main__":
    main()

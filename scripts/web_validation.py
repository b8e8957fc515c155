"""Write the held-out validation parts of RAF-DB and AffectNet as evaluation files (48x48 crops as training
sees them, ``x`` and ``y``), and PublicTest with the FER+ majority labels, for `python -m fer_core evaluate`,
`scripts/evaluate_all.sh` and the model cards:

    python scripts/web_validation.py --data ../shared/data --out data/validation
    python -m fer_core evaluate --data data/validation/rafdb_val.npz

The parts are the same in every run (fer_core.lab.web_faces: 10% of each class, a fixed seed), and never
trained on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fer_core.lab.web_faces import WEB_FILES, load_web_faces


def ferplus_majority(data: Path, out: Path) -> None:
    """PublicTest's faces with the FER+ crowd's majority label, where it is one of the 7 (not contempt, unknown
    or a tie)."""
    d = np.load(data / "ferplus_valid.npz")
    keep = d["y_majority"] < 7
    np.savez_compressed(out / "ferplus_majority.npz", x=d["x"][keep], y=d["y_majority"][keep].astype(np.uint8))
    print(f"{out / 'ferplus_majority.npz'}: {int(keep.sum())} faces")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="data/validation")
    ap.add_argument("--cache", default="runs_wild/crops", help="where the crops are cached (shared with training)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for source in WEB_FILES:
        x, y = load_web_faces(args.data, source, "val", cache_dir=Path(args.cache))
        np.savez_compressed(out / f"{source}_val.npz", x=x, y=y.astype(np.uint8))
        print(f"{out / f'{source}_val.npz'}: {len(y)} faces, per class {np.bincount(y, minlength=7).tolist()}")
    ferplus_majority(Path(args.data), out)


if __name__ == "__main__":
    main()

"""Refit one model's classifier head on frozen features of the whole training mix (fer_core/lab/head_refit.py).

    python scripts/refit_head.py --model vgg16 --out /work/head [--weights weights/vgg16.npz]
        [--mix expw=2,sfew=2,rafdb=1,affectnet=1] [--ferplus-mix 0.7] [--threads 1] [--no-mirror]

Prints the five validation accuracies of the shipped head and of each penalty's fit; where one beats the
shipped head on their mean, OUT/MODEL/best.npz holds the shipped weights with that head (then
``python -m fer_core card --model MODEL --weights OUT/MODEL/best.npz`` writes its card).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer_core import settings  # noqa: E402


def parse_mix(text: str) -> dict:
    return {k: float(v) for k, v in (part.split("=") for part in text.split(",") if part)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=("resnet50", "vgg16"))
    ap.add_argument("--weights", default=None, help="default: weights/MODEL.npz")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--mix", default="expw=2,sfew=2,rafdb=1,affectnet=1")
    ap.add_argument("--ferplus-mix", type=float, default=0.7)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument(
        "--no-mirror",
        action="store_true",
        help="fit on the training faces only, not their mirror images too (half the backbone passes)",
    )
    args = ap.parse_args()
    if args.threads:
        settings.use_threads(args.threads)
    from fer_core.lab.head_refit import refit

    weights = args.weights or str(ROOT / "weights" / f"{args.model}.npz")
    report = refit(
        args.model,
        weights,
        data_dir=args.data,
        out_dir=args.out,
        mix=parse_mix(args.mix),
        ferplus_mix=args.ferplus_mix,
        mirrored=not args.no_mirror,
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()

"""Each shipped model's probabilities on the validation faces, kept beside the model cards for the share
corrections (fer_core/statistics/quantify.py): FER-2013 PublicTest, ExpW test and SFEW test, and the held-out
validation parts of RAF-DB and AffectNet where scripts/web_validation.py wrote them (48x48 crops, flip TTA as
the product uses for photos).

    python scripts/web_validation.py --out data/validation
    python scripts/validation_probs.py [--data ../shared/data] [--web data/validation] [--out weights/validation_probs.npz]

Writes ``y`` (true class), ``set`` (index into ``sets``), ``sets``, one float16 (N, 7) array per model and
``ensemble``, ``hash`` (each face's pixels' hash: an evaluation on these faces leaves them out of the
correction) and ``versions`` (the model versions they were made with: other weights need a new file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fer_core.analyzer import Analyzer  # noqa: E402
from fer_core.config import AnalyzerConfig  # noqa: E402
from fer_core.lab.evaluation import load_labelled  # noqa: E402
from fer_core.statistics.quantify import face_hashes  # noqa: E402
from fer_core.vision.crop import to_face_size  # noqa: E402

WEB = ("rafdb", "affectnet")
SETS = {"fer2013_publictest": "fer2013_publictest.npz", "expw_test": "expw_test.npz", "sfew_test": "sfew2_test.npz"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--out", default=str(ROOT / "weights" / "validation_probs.npz"))
    ap.add_argument("--web", default=str(ROOT / "data" / "validation"), help="rafdb_val.npz, affectnet_val.npz")
    args = ap.parse_args()
    files = {name: Path(args.data) / file for name, file in SETS.items()}
    files.update(
        {f"{w}_val": Path(args.web) / f"{w}_val.npz" for w in WEB if (Path(args.web) / f"{w}_val.npz").exists()}
    )
    analyzer = Analyzer(AnalyzerConfig.from_env())
    analyzer.load_models()
    ys, sets, probs, hashes = [], [], {}, []
    for i, (name, file) in enumerate(files.items()):
        x, y, _ = load_labelled(str(file))
        got = analyzer.classify(to_face_size(x))
        for model, p in got.items():
            probs.setdefault(model, []).append(p)
        ys.append(y)
        sets.append(np.full(len(y), i))
        hashes.append(face_hashes(x))
        print(f"{name}: {len(y)} faces", file=sys.stderr, flush=True)
    versions = {m: v["version"] for m, v in analyzer.model_info().items()}
    np.savez_compressed(
        args.out,
        y=np.concatenate(ys).astype(np.uint8),
        set=np.concatenate(sets).astype(np.uint8),
        sets=np.array(list(files)),
        versions=np.array(json.dumps(versions)),
        hash=np.concatenate(hashes),
        **{m: np.concatenate(p).astype(np.float16) for m, p in probs.items()},
    )
    print(json.dumps({"out": args.out, "faces": int(sum(len(y) for y in ys)), "versions": versions}))


if __name__ == "__main__":
    main()

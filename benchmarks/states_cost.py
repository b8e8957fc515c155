"""What one facial-state reading costs, read as a photo is and as a video frame is, on real movie frames
(SFEW 2.0 test, ``../shared/data``, framed as benchmarks/states_check.py frames them).

    python benchmarks/states_cost.py [--frames 40]

Prints one JSON line: milliseconds of one core per reading (median over the frames, best of 3 per frame).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from states_check import DATA_DIR, framed  # noqa: E402

from fer_core.vision.detection import FaceDetector  # noqa: E402
from fer_core.vision.states import StateReader  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40)
    args = ap.parse_args()
    x = np.load(DATA_DIR / "sfew2_test.npz")["x_full"]
    reader, detector = StateReader(), FaceDetector()
    cost: dict[str, list[float]] = {"photo": [], "video": []}
    for grey in x[:: max(1, len(x) // args.frames)][: args.frames]:
        image = framed(grey)
        faces = detector.detect(image)
        if not faces:
            continue
        face = max(faces, key=lambda f: f.w)
        for mode, quick in (("photo", False), ("video", True)):
            reader.read(image, face, quick=quick)
            runs = []
            for _ in range(3):
                t = time.process_time()
                reader.read(image, face, quick=quick)
                runs.append(time.process_time() - t)
            cost[mode].append(min(runs) * 1000)
    print(
        json.dumps({"faces": len(cost["video"]), **{f"{m}_ms": round(float(np.median(v)), 2) for m, v in cost.items()}})
    )


if __name__ == "__main__":
    main()

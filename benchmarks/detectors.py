"""Choose and tune the face detector by measurement.

    python benchmarks/detectors.py [--n 64] [--data ../shared/data]

Builds test photos from real faces (FER+ PublicTest, 48x48 lossless) pasted at
random sizes (100-400 px) onto smooth 1280x720 backgrounds, then reports for
BlazeFace (our detector, several thresholds) and OpenCV's Haar cascade:
recall (pasted face found), share of photos with a false alarm, and ms per
photo.  It also measures how a FER-2013 crop relates to a BlazeFace box (the
constants in fer_core/crop.py).  Pasted tight crops are harder than whole
heads in real photos, so absolute recall here is a lower bound.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import background, paste  # noqa: E402

from fer_core.detection import FaceDetector  # noqa: E402


def make_photos(faces: np.ndarray, n: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = background(720, 1280, seed=10 + i)
        s = int(rng.integers(100, 400))
        x, y = int(rng.integers(0, 1280 - s)), int(rng.integers(0, 720 - s))
        paste(img, faces[i], x, y, s)
        yield img, (x, y, s)


def on_face(box, spot) -> bool:
    (bx, by, bw, bh), (x, y, s) = box, spot
    return abs(bx + bw / 2 - (x + s / 2)) < s / 3 and abs(by + bh / 2 - (y + s / 2)) < s / 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
    args = ap.parse_args()
    x = np.load(Path(args.data) / "ferplus_valid.npz")["x"]
    faces = x[x.reshape(len(x), -1).std(axis=1) > 40]
    photos = list(make_photos(faces, args.n))

    blaze = FaceDetector(min_score=0.5)
    found, alarms, ms, framing = [], [], [], []
    for img, spot in photos:
        t = time.perf_counter()
        dets = blaze.detect(img)
        ms.append((time.perf_counter() - t) * 1000)
        found.append(max([d.score for d in dets if on_face(d.box, spot)], default=0.0))
        alarms.append(max([d.score for d in dets if not on_face(d.box, spot)], default=0.0))
        hit = [d for d in dets if on_face(d.box, spot)]
        if hit:
            d = max(hit, key=lambda d: d.score)
            xs, ys, s = spot
            framing.append(((xs + s / 2 - (d.x + d.w / 2)) / d.w, (ys + s / 2 - (d.y + d.h / 2)) / d.h, s / d.w))
    found, alarms = np.array(found), np.array(alarms)
    print(f"BlazeFace full-range, tiled ({len(blaze.views(1280, 720))} views per 1280x720 photo), "
          f"{np.median(ms):.1f} ms per photo")
    for t in (0.5, 0.55, 0.6, 0.65, 0.7):
        print(f"  threshold {t:.2f}: recall {100 * (found >= t).mean():5.1f}%   "
              f"photos with a false alarm {100 * (alarms >= t).mean():5.1f}%")

    haar = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    hits, false, ms = 0, 0, []
    for img, spot in photos:
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        t = time.perf_counter()
        dets = haar.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        ms.append((time.perf_counter() - t) * 1000)
        hits += any(on_face(tuple(d), spot) for d in dets)
        false += any(not on_face(tuple(d), spot) for d in dets)
    print(f"OpenCV Haar frontalface_default: recall {100 * hits / len(photos):5.1f}%   "
          f"photos with a false alarm {100 * false / len(photos):5.1f}%   {np.median(ms):.1f} ms per photo")

    f = np.array(framing)
    print(f"FER-2013 crop vs BlazeFace box over {len(f)} faces (median): centre offset x {np.median(f[:, 0]):+.3f}, "
          f"y {np.median(f[:, 1]):+.3f} box sides; crop side / box side {np.median(f[:, 2]):.3f}")


if __name__ == "__main__":
    main()

"""Does turning each face crop so the eyes are level (AnalyzerConfig.align) help?

    python benchmarks/alignment.py [--n 400] [--data ../shared/data]

FER-2013 PublicTest faces (their labels known), each turned by 10-30 degrees either way and pasted at
160-320 px into a 640x480 photo, are detected and classified with and without alignment; a face the
detector misses counts as wrong in both.  Also reports upright faces, to show alignment costs nothing there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fer_core import (
    Analyzer,
    AnalyzerConfig,  # noqa: E402
)

from conftest import background  # noqa: E402


def photos(x: np.ndarray, n: int, *, tilt: bool, seed: int = 7):
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = background(480, 640, seed=1000 + i)
        size = int(rng.integers(160, 320))
        face = cv2.resize(x[i], (size, size), interpolation=cv2.INTER_CUBIC)
        angle = float(rng.choice([-1, 1]) * rng.uniform(10, 30)) if tilt else 0.0
        # turn the face on a square of the background's grey so no black corners come with it
        pad = size // 2
        big = cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        m = cv2.getRotationMatrix2D((big.shape[1] / 2, big.shape[0] / 2), angle, 1.0)
        turned = cv2.warpAffine(big, m, big.shape[::-1], borderMode=cv2.BORDER_REPLICATE)[
            pad : pad + size, pad : pad + size
        ]
        x0, y0 = int(rng.integers(0, 640 - size)), int(rng.integers(0, 480 - size))
        img[y0 : y0 + size, x0 : x0 + size] = turned[..., None]
        yield img, (x0, y0, size)


def accuracy(analyzer: Analyzer, images, labels) -> tuple[float, float]:
    detector = analyzer.detector()
    crops, found = [], []
    for img, (x0, y0, s) in images:
        faces = [
            f
            for f in detector.detect(img)
            if abs(f.x + f.w / 2 - (x0 + s / 2)) < s / 3 and abs(f.y + f.h / 2 - (y0 + s / 2)) < s / 3
        ]
        found.append(bool(faces))
        crops.append(analyzer.crop(img, max(faces, key=lambda f: f.score)) if faces else np.zeros((48, 48), np.uint8))
    pred = analyzer.classify(np.stack(crops))["ensemble"].argmax(axis=1)
    found = np.array(found)
    return 100 * float(np.mean((pred == labels) & found)), 100 * float(found.mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
    args = ap.parse_args()
    d = np.load(Path(args.data) / "fer2013_publictest.npz")
    keep = d["x"].reshape(len(d["x"]), -1).std(axis=1) > 20
    x, y = d["x"][keep][: args.n], d["y"][keep][: args.n]
    for tilt in (True, False):
        images = list(photos(x, len(x), tilt=tilt))
        row = []
        for align in (False, True):
            acc, found = accuracy(Analyzer(AnalyzerConfig(align=align)), images, y)
            row.append(f"{'aligned' if align else 'not aligned'} {acc:.1f}%")
        print(
            f"{'turned 10-30 degrees' if tilt else 'upright'}: {len(x)} faces, found {found:.1f}%; "
            f"ensemble accuracy {', '.join(row)}"
        )


if __name__ == "__main__":
    main()

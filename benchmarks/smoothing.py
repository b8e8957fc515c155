"""Does smoothing a face track's probabilities over time make its readings more accurate?

    python benchmarks/smoothing.py [--seconds 240] [--data ../shared/data]

Builds a 640x360 video at 10 fps spliced from labelled FER-2013 PublicTest faces: the expression changes at
known times (segments of 2-8 s, one label each), and within a segment the face shown changes every half second
(another face with the same label), as a real face changes from frame to frame.  The video is analysed at
2 frames/s; each reading's ensemble label is scored against the label shown at its time, raw and after a
centred moving average of the track's probabilities over 3, 5 or 9 readings.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fer_core import (
    EMOTIONS,
    Analyzer,
    AnalyzerConfig,  # noqa: E402
)

from conftest import background, write_video  # noqa: E402


def spliced_clip(x, y, seconds: float, path: Path, seed: int = 5):
    rng = np.random.default_rng(seed)
    by_label = {k: np.flatnonzero(y == k) for k in range(7)}
    bg = background(360, 640, seed=9)
    frames, truth, t = [], [], 0.0
    while t < seconds:
        label = int(rng.integers(7))
        length = float(rng.uniform(2, 8))
        for i in range(int(length * 10)):
            if i % 5 == 0:
                face = cv2.resize(x[rng.choice(by_label[label])], (200, 200), interpolation=cv2.INTER_CUBIC)
            img = bg.copy()
            img[80:280, 220:420] = face[..., None]
            frames.append(img)
            truth.append(label)
        t += int(length * 10) / 10
    write_video(path, frames, 10)
    return np.array(truth)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=240)
    ap.add_argument("--data", default=str(Path(__file__).resolve().parent.parent.parent / "shared" / "data"))
    args = ap.parse_args()
    d = np.load(Path(args.data) / "fer2013_publictest.npz")
    keep = d["x"].reshape(len(d["x"]), -1).std(axis=1) > 20
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spliced.mp4"
        truth = spliced_clip(d["x"][keep], d["y"][keep], args.seconds, path)
        result = Analyzer(AnalyzerConfig(fps=2)).analyze_video(path)
    faces = sorted(result.faces, key=lambda f: (f["track"], f["t_s"]))
    print(f"{len(faces)} readings in {len({f['track'] for f in faces})} track(s) over {args.seconds:.0f} s")
    for window in (1, 3, 5, 9):
        hits = []
        for track in {f["track"] for f in faces}:
            rows = [f for f in faces if f["track"] == track]
            p = np.array([[f["predictions"]["ensemble"]["probs"][e] for e in EMOTIONS] for f in rows])
            kernel = np.ones(window) / window
            pad = np.pad(p, ((window // 2, window // 2), (0, 0)), mode="edge")
            smooth = np.stack([np.convolve(pad[:, k], kernel, mode="valid") for k in range(7)], axis=1)
            shown = truth[[min(f["frame"], len(truth) - 1) for f in rows]]
            hits += list(smooth.argmax(axis=1) == shown)
        name = "raw" if window == 1 else f"moving average over {window} readings"
        print(f"  {name}: accuracy {100 * np.mean(hits):.1f}% of {len(hits)} readings")


if __name__ == "__main__":
    main()

"""Core engine speed on this machine: faces/s per model, and video analysis speed.

    python benchmarks/core_speed.py [--seconds 20]

Prints, as JSON lines:
- faces/s for each model at batch 1 and batch 32 (classification only);
- detector ms per 640x360 and 1920x1080 frame;
- video analysis speed (seconds of video per second of compute, both models,
  default 2 sampled frames/s) for generated 640x360 and 1920x1080 clips with one
  real FER-2013 face, models already loaded (start-up is timed separately).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from conftest import background, paste, write_video  # noqa: E402

from fer_core import Analyzer, AnalyzerConfig  # noqa: E402


def clip(path: Path, face: np.ndarray, width: int, height: int, seconds: float, fps: int = 25) -> Path:
    bg = background(height, width, seed=4)
    size = height // 3
    frames = []
    for i in range(int(seconds * fps)):
        img = bg.copy()
        paste(img, face, width // 3 + (i % 50), height // 4, size)
        frames.append(img)
    return write_video(path, frames, fps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each generated clip")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    x = np.load(Path(args.data) / "ferplus_valid.npz")["x"]
    faces = x[x.reshape(len(x), -1).std(axis=1) > 40]

    t = time.perf_counter()
    analyzer = Analyzer(AnalyzerConfig())
    analyzer.load_models()
    print(json.dumps({"startup_load_models_s": round(time.perf_counter() - t, 2)}), flush=True)

    for name in ("resnet50", "vgg16"):
        single = Analyzer(AnalyzerConfig(models=(name,)))
        for batch in (1, 32):
            crops = faces[:batch]
            single.classify(crops)  # warm-up
            n, t = 0, time.perf_counter()
            while time.perf_counter() - t < 3:
                single.classify(crops)
                n += batch
            print(json.dumps({"model": name, "batch": batch,
                              "faces_per_s": round(n / (time.perf_counter() - t), 1)}), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        for width, height in ((640, 360), (1920, 1080)):
            det = analyzer.detector(video=True)
            frame = background(height, width)
            det.detect(frame)
            t = time.perf_counter()
            for _ in range(10):
                det.detect(frame)
            det_ms = (time.perf_counter() - t) * 100
            path = clip(Path(tmp) / f"clip_{width}.mp4", faces[0], width, height, args.seconds)
            analyzer.analyze_video(path)  # warm-up (graph tracing for this batch shape)
            t = time.perf_counter()
            result = analyzer.analyze_video(path)
            dt = time.perf_counter() - t
            print(json.dumps({"video": f"{width}x{height}", "seconds_of_video": args.seconds,
                              "sampled_frames": result.frames_analyzed, "faces": len(result.faces),
                              "detector_ms_per_frame": round(det_ms, 1),
                              "video_s_per_compute_s": round(args.seconds / dt, 2)}), flush=True)


if __name__ == "__main__":
    main()

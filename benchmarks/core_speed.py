"""Core engine speed on this machine: faces/s per model, and video analysis speed.

    python benchmarks/core_speed.py [--seconds 20]
    FER_ENGINE=litert-int8 python benchmarks/core_speed.py   # the opt-in int8 engine (any FER_* setting works)

Prints, as JSON lines:
- faces/s for each model at batch 1 and batch 32 (classification only);
- detector ms per 640x360 and 1920x1080 frame;
- video analysis speed (seconds of video per second of compute, both models,
  default 2 sampled frames/s) for generated 640x360 and 1920x1080 clips with one
  real FER-2013 face, models already loaded (start-up is timed separately), best of 3,
  with the default settings and with flip TTA on video frames too, and how many cores were busy
  (CPU seconds per wall second of the best run);
- ingest throughput: the same clips analysed and stored in a fresh SQLite database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from fer_core import (
    Analyzer,
    AnalyzerConfig,  # noqa: E402
)
from fer_core.service import ingest  # noqa: E402
from fer_core.storage.db import make_engine, upgrade  # noqa: E402

from conftest import background, paste  # noqa: E402


def clip(path: Path, face: np.ndarray, width: int, height: int, seconds: float, fps: int = 25) -> Path:
    """A clip of one real face moving over a background, written frame by frame (long clips fit in memory)."""
    import cv2

    bg = background(height, width, seed=4)
    size = height // 3
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for i in range(int(seconds * fps)):
        img = bg.copy()
        paste(img, face, width // 3 + (i % 50), height // 4, size)
        writer.write(img)
    writer.release()
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each generated clip")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    x = np.load(Path(args.data) / "ferplus_valid.npz")["x"]
    faces = x[x.reshape(len(x), -1).std(axis=1) > 40]

    t = time.perf_counter()
    analyzer = Analyzer(AnalyzerConfig.from_env())
    analyzer.load_models()
    print(
        json.dumps({"startup_load_models_s": round(time.perf_counter() - t, 2), "engine": analyzer.engine()}),
        flush=True,
    )

    for name in ("resnet50", "vgg16"):
        single = Analyzer(AnalyzerConfig.from_env(models=(name,)))
        for batch in (1, 32):
            crops = faces[:batch]
            single.classify(crops)  # warm-up
            n, t = 0, time.perf_counter()
            while time.perf_counter() - t < 3:
                single.classify(crops)
                n += batch
            print(
                json.dumps(
                    {
                        "model": name,
                        "batch": batch,
                        "engine": single.engine(),
                        "faces_per_s": round(n / (time.perf_counter() - t), 1),
                    }
                ),
                flush=True,
            )

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
            for tta in (False, True):
                a = Analyzer(AnalyzerConfig.from_env(video_tta=tta))
                a.analyze_video(path)  # warm-up
                best, cores_busy = float("inf"), 0.0
                for _ in range(3):
                    t, cpu = time.perf_counter(), os.times()
                    result = a.analyze_video(path)
                    wall = time.perf_counter() - t
                    if wall < best:  # CPU seconds per wall second: 2.0 means both cores were busy throughout
                        cpu2 = os.times()
                        best = wall
                        cores_busy = (cpu2.user - cpu.user + cpu2.system - cpu.system) / wall
                print(
                    json.dumps(
                        {
                            "video": f"{width}x{height}",
                            "video_tta": tta,
                            "engine": a.engine(),
                            "seconds_of_video": args.seconds,
                            "sampled_frames": result.frames_analyzed,
                            "faces": len(result.faces),
                            "detector_ms_per_frame": round(det_ms, 1),
                            "video_s_per_compute_s": round(args.seconds / best, 2),
                            "cores_busy": round(cores_busy, 2),
                        }
                    ),
                    flush=True,
                )
            engine = make_engine(f"sqlite:///{tmp}/ingest_{width}.db")
            upgrade(engine)
            t = time.perf_counter()
            summary = ingest(
                [path],
                engine=engine,
                analyzer=analyzer,
                session_name="bench",
                keep="none",
                media_root=Path(tmp) / "media",
            )
            dt = time.perf_counter() - t
            print(
                json.dumps(
                    {
                        "ingest": f"{width}x{height}",
                        "status": summary.files[0].status,
                        "faces": summary.files[0].faces,
                        "wall_s": round(dt, 2),
                        "video_s_per_s": round(args.seconds / dt, 2),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()

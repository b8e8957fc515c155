"""Whole-process video analysis speed: our pipeline (BlazeFace + ResNet50 + VGG16) against the `fer`
package's (Haar cascade + mini-Xception), same clips, same sampling (2 frames per second).

    pip install --no-deps fer==25.10.3
    python benchmarks/vs_fer.py [--seconds 60]

Generates a 640x360 and a 1920x1080 clip of ``--seconds`` with one real FER-2013 face, then times each
pipeline as a separate process, start-up (imports, model loading) included, and reports seconds of video
analysed per second of wall time and the process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from conftest import background, paste, write_video  # noqa: E402

FER_SCRIPT = r"""
import sys, cv2
from fer.fer import FER
detector = FER()  # Haar cascade + mini-Xception, as the package ships them
cap = cv2.VideoCapture(sys.argv[1]); fps = cap.get(cv2.CAP_PROP_FPS); step = 1 / float(sys.argv[2])
i, next_t, faces = -1, 0.0, 0
while cap.grab():
    i += 1
    if i / fps + 1e-6 < next_t:
        continue
    ok, frame = cap.retrieve()
    faces += len(detector.detect_emotions(frame))
    next_t += step
print(faces)
"""


WRAP = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(r.returncode)"
)


def measure(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak resident memory (MB) of that one process, and its stdout."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WRAP, *cmd], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if out.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:4]} failed: {out.stderr[-2000:]}")
    peak_kb = int(out.stderr.rsplit("PEAK_KB", 1)[1].split()[0])
    return wall, peak_kb / 1024, out.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--fps", type=float, default=2.0)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    x = np.load(Path(args.data) / "ferplus_valid.npz")["x"]
    face = x[x.reshape(len(x), -1).std(axis=1) > 40][0]
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in ((640, 360), (1920, 1080)):
            bg = background(height, width, seed=4)
            frames = []
            for i in range(args.seconds * 25):
                img = bg.copy()
                paste(img, face, width // 3 + (i % 50), height // 4, height // 3)
                frames.append(img)
            clip = write_video(Path(tmp) / f"clip_{width}.mp4", frames, 25)
            del frames
            ours = [sys.executable, "-m", "fer_core", "analyze", str(clip), "--fps", str(args.fps)]
            fer = [sys.executable, "-c", FER_SCRIPT, str(clip), str(args.fps)]
            for name, cmd in (("ours (BlazeFace + ResNet50 + VGG16)", ours), ("fer (Haar + mini-Xception)", fer)):
                wall, mb, out = measure(cmd)
                faces = len(out.splitlines()) if name.startswith("ours") else int(out.strip() or 0)
                print(
                    json.dumps(
                        {
                            "pipeline": name,
                            "video": f"{width}x{height}",
                            "video_s": args.seconds,
                            "wall_s": round(wall, 1),
                            "video_s_per_s": round(args.seconds / wall, 2),
                            "faces": faces,
                            "peak_rss_mb": round(mb),
                        }
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    main()

"""Issue 7's measurements in one run: core speed, ingest, whole-process speed against the `fer` package,
and memory against video length.

    pip install --no-deps fer==25.10.3      # only for the comparison
    python benchmarks/speed.py [--seconds 60]

Runs benchmarks/core_speed.py (faces/s per model at batch 1 and 32, detector ms, video seconds per second
at 640x360 and 1920x1080 with models loaded, ingest throughput), benchmarks/vs_fer.py (whole process,
start-up included, ours and fer's on the same clips), then `python -m fer_core analyze` on a 1-minute and
a 10-minute 640x360 clip for peak memory, and last benchmarks/queries.py (every dashboard query on a
1,000,000-prediction SQLite database, built first if /tmp/fer_bench.db does not hold it; `--no-queries`
skips it). Prints JSON lines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))
from core_speed import clip  # noqa: E402
from vs_fer import measure  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--no-queries", action="store_true", help="skip the 1,000,000-prediction query timings")
    args = ap.parse_args()
    for script in ("core_speed.py", "vs_fer.py"):
        subprocess.run([sys.executable, str(HERE / script), "--seconds", str(args.seconds)], check=True, cwd=ROOT)
    import numpy as np

    x = np.load(ROOT.parent / "shared" / "data" / "ferplus_valid.npz")["x"]
    face = x[x.reshape(len(x), -1).std(axis=1) > 40][0]
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in (1, 10):
            path = clip(Path(tmp) / f"m{minutes}.mp4", face, 640, 360, minutes * 60)
            wall, mb, out = measure([sys.executable, "-m", "fer_core", "analyze", str(path)])
            print(
                json.dumps(
                    {
                        "memory": f"{minutes} min 640x360",
                        "faces": len(out.splitlines()),
                        "wall_s": round(wall, 1),
                        "peak_rss_mb": round(mb),
                    }
                ),
                flush=True,
            )
            path.unlink()
    if not args.no_queries:
        subprocess.run([sys.executable, str(HERE / "queries.py")], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()

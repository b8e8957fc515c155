"""640x360 video speed of two or more checkouts on this machine, alternating, as core_speed.py measures it.

    git worktree add /tmp/base 1710a8d
    python benchmarks/video_speed_ab.py /tmp/base . /tmp/base .

Each checkout runs in its own process: a generated 20 s clip with one real FER-2013 face (core_speed.py's
``clip``), models loaded, one warm-up, best of 3; prints one JSON line per run. Pause training first
(``kill -STOP PID``, then ``kill -CONT PID``): a target in seconds of video per second belongs to a quiet
machine, and a ratio between checkouts measured side by side carries over to another machine better than
either figure. With two checkouts alternating, a last line gives each pair's ratio (second over first) and
their median.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ONE_RUN = r"""
import json, sys, tempfile, time
from pathlib import Path
repo = Path(sys.argv[1]).resolve()
for p in (repo, repo / "tests", repo / "benchmarks"):
    sys.path.insert(0, str(p))
import numpy as np
from core_speed import clip
from fer_core import Analyzer
from fer_core import AnalyzerConfig
x = np.load(sys.argv[2])["x"]
faces = x[x.reshape(len(x), -1).std(axis=1) > 40]
with tempfile.TemporaryDirectory() as tmp:
    path = clip(Path(tmp) / "c.mp4", faces[0], 640, 360, 20)
    a = Analyzer(AnalyzerConfig.from_env())
    a.load_models()
    a.analyze_video(path)
    walls = []
    for _ in range(3):
        t = time.perf_counter()
        r = a.analyze_video(path)
        walls.append(time.perf_counter() - t)
    print(json.dumps({"checkout": str(repo), "engine": a.engine(), "faces": len(r.faces),
                      "walls_s": [round(w, 2) for w in walls], "video_s_per_s": round(20 / min(walls), 2)}))
"""


def main() -> None:
    data = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ferplus_valid.npz"
    repos = sys.argv[1:] or ["."]
    speeds = []
    for repo in repos:
        out = subprocess.run([sys.executable, "-c", ONE_RUN, repo, str(data)], capture_output=True, text=True)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        print(lines[-1] if lines else f"{repo}: failed\n{out.stderr[-2000:]}", flush=True)
        speeds.append(json.loads(lines[-1])["video_s_per_s"] if lines else None)
    if len(set(repos)) == 2 and len(repos) >= 4 and None not in speeds:
        # pairs measured back to back: the second checkout's speed as a share of the first's
        ratios = [b / a for a, b in zip(speeds[::2], speeds[1::2])]
        print(
            json.dumps({"ratios": [round(r, 3) for r in ratios], "median_ratio": round(statistics.median(ratios), 3)})
        )


if __name__ == "__main__":
    main()

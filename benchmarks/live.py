"""How well a live run keeps up: analysed frames a second and each frame's delay, at 640x480, both models.

    python benchmarks/live.py [--seconds 30] [--out benchmarks/results/live_DATE.jsonl]

Two measurements, one JSON line each:
- ``browser, first run`` and ``browser``: the real thing. Starts the dashboard, waits for its models, and has
  headless Chromium open the Live page with a fake camera playing real FER-2013 faces (640x480, 15 frames a
  second, made here): a first run of about 10 s with a marked moment (what the browser test does), then one
  of ``--seconds``; the figures are each run's own, stored with it (``analysis_run.settings["live_stats"]``).
  Browser and server share this machine's cores.
- ``server``: the same frames handed to ``fer_core.live.LiveRecording`` at 15 a second by a thread, without a
  browser or WebRTC: what the analysis alone does, at the default cap (FER_LIVE_FPS) and at 15 (the headroom).
``fps``: analysed frames a second; ``latency_ms``: from a frame's arrival in the server's callback to its
labelled copy going back (p50, p95, max); ``analysis_ms``: one analysis; ``frames_in``: frames the camera
sent (the rest were dropped, never queued). The browser test (tests/test_e2e_browser.py) reads the newest
``browser, first run`` line: its run must hold at least 80% of that fps times the run's length in readings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pages import start_dashboard, wait_for_models  # noqa: E402

from conftest import camera_frames, chromium_camera_args, detectable_faces, run_live, write_y4m  # noqa: E402

FPS_IN = 15


def server_only(frames: list[np.ndarray], seconds: float, fps: float | None = None) -> dict:
    from fer_core import Analyzer, AnalyzerConfig, settings
    from fer_core.live import LiveDestination, LiveRecording

    analyzer = Analyzer(AnalyzerConfig.from_env())
    analyzer.warm_up()
    fps = fps or settings.current().live_fps
    for warm in (True, False):
        rec = LiveRecording(analyzer, LiveDestination("benchmark"), fps=fps)
        start, i = time.monotonic(), 0
        while time.monotonic() - start < (3.0 if warm else seconds):
            rec.offer(frames[i % len(frames)])
            i += 1
            time.sleep(max(0.0, start + i / FPS_IN - time.monotonic()))
        rec.stop()
    s = rec.stats()
    return {
        "mode": "server",
        "max_fps": fps,
        "fps": round(s.fps, 2),
        "latency_ms": s.latency_ms,
        "analysis_ms": s.analysis_ms,
        "frames_in": s.frames_in,
        "analysed": s.analysed,
        "readings": s.readings,
        "seconds": round(s.seconds, 1),
    }


def in_browser(clip: Path, seconds: float) -> list[dict]:
    from playwright.sync_api import sync_playwright
    from sqlalchemy import create_engine, text

    home = Path(tempfile.mkdtemp(prefix="fer-bench-live-"))
    proc, url = start_dashboard(home / "fer.db", home)
    try:
        with sync_playwright() as p:
            chromium = shutil.which("chromium") or shutil.which("chromium-browser")
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", *chromium_camera_args(clip)])
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(url)  # the first page starts the models' background load
            wait_for_models(proc)
            run_live(page, url, session="first", seconds=10)  # as the browser test does
            run_live(page, url, session="measured", seconds=seconds)
            browser.close()
        lines = []
        with create_engine(f"sqlite:///{home / 'fer.db'}").connect() as c:
            for session, mode in (("first", "browser, first run"), ("measured", "browser")):
                stats = c.execute(
                    text(
                        "SELECT r.settings FROM analysis_run r JOIN feedback_session s ON s.id = r.session_id "
                        "WHERE s.name = :name"
                    ),
                    {"name": session},
                ).scalar_one()
                stats = (json.loads(stats) if isinstance(stats, str) else stats)["live_stats"]
                keys = ("fps", "latency_ms", "analysis_ms", "frames_in", "seconds")
                lines.append({"mode": mode, **{k: stats[k] for k in keys}})
        return lines
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / f"live_{dt.date.today()}.jsonl")
    args = ap.parse_args()
    frames = camera_frames(detectable_faces(4), fps=FPS_IN)
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_y4m(Path(tmp) / "participant.y4m", frames, FPS_IN)
        lines = in_browser(clip, args.seconds)
    lines.append(server_only(frames, args.seconds))
    lines.append(server_only(frames, args.seconds, fps=FPS_IN))  # as fast as it can: the headroom
    stamp = {"size": "640x480", "camera_fps": FPS_IN, "date": str(dt.date.today()), "cores": _cores()}
    with open(args.out, "a") as out:
        for line in lines:
            print(json.dumps({**line, **stamp}))
            out.write(json.dumps({**line, **stamp}) + "\n")


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()

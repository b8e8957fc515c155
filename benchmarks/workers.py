"""Throughput of the task-queue workers: the same batch of videos with 1 worker and with 2 workers.

    python benchmarks/workers.py [--files 6] [--seconds 30]

Starts Redis and PostgreSQL with scripts/start_redis.sh and scripts/start_postgres.sh (or uses
FER_TEST_REDIS_URL / FER_TEST_POSTGRES_URL), a fresh database per run, and `python -m fer_core
worker` processes (2 CPU threads for one worker, 1 each for two). Times from submission until
the last job is done, workers already started (models loaded). Prints one JSON line per setting.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from core_speed import clip  # noqa: E402
from test_workers import Worker  # noqa: E402

from fer_core import jobs  # noqa: E402
from fer_core.storage.db import make_engine, upgrade  # noqa: E402

from conftest import ScratchPostgres  # noqa: E402


def url(var: str, script: str) -> str:
    return (
        os.environ.get(var)
        or subprocess.run(
            ["bash", str(ROOT / "scripts" / script)], capture_output=True, text=True, check=True
        ).stdout.strip()
    )


def run(n_workers: int, files: list[Path], pg: str, redis_url: str, home: Path) -> dict:
    import redis

    db = ScratchPostgres(pg, prefix="fer_bench")
    db_url, name = db.url, db.name
    broker = redis_url.rsplit("/", 1)[0] + "/5"
    redis.Redis.from_url(broker).flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "BROKER_URL": broker,
        "FER_HOME": str(home / name),
        "FER_MEDIA_STORE": str(home / name / "media"),
    }
    engine = make_engine(db_url)
    upgrade(engine)
    threads = max(1, (os.cpu_count() or 2) // n_workers)
    workers = [Worker(f"b{k}", env, threads=threads) for k in range(n_workers)]
    for w in workers:
        w.wait_ready()
    t0 = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fer_core",
            "ingest",
            "--session",
            "bench",
            "--no-wait",
            "--keep",
            "none",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    ids = json.loads(out.stdout)["jobs"]
    outcomes = jobs.wait(ids, engine=engine, poll_s=0.2, timeout_s=3600)
    wall = time.perf_counter() - t0
    for w in workers:
        w.stop()
    engine.dispose()
    db.drop()
    return {
        "workers": n_workers,
        "threads_per_worker": threads,
        "files": len(files),
        "done": sum(o.status == "done" for o in outcomes),
        "wall_s": round(wall, 1),
    }


def main() -> None:
    import numpy as np

    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=30.0)
    args = ap.parse_args()
    pg, redis_url = url("FER_TEST_POSTGRES_URL", "start_postgres.sh"), url("FER_TEST_REDIS_URL", "start_redis.sh")
    data = ROOT.parent / "shared" / "data" / "ferplus_valid.npz"
    faces = np.load(data)["x"]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        files = [clip(home / f"clip{k}.mp4", faces[100 + k], 640, 360, args.seconds) for k in range(args.files)]
        video_s = args.files * args.seconds
        for n in (1, 2):
            r = run(n, files, pg, redis_url, home)
            r["video_s_per_s"] = round(video_s / r["wall_s"], 2)
            print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()

"""What correcting a session's shares costs: ``session_summary`` with and without the correction, on a session
of 300 face readings (the shares benchmark's largest) of which 400 faces of its population are reviewed.

    python benchmarks/correction_speed.py [--faces 300] [--reviewed 400] [--repeat 5]

Prints one JSON line: the median seconds of each call, the first (the population's corrector built) and the
next ones (the corrector cached), by file (one group) and by person.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from fer_core import service
from fer_core.constants import EMOTIONS, OPINIONS
from fer_core.statistics import groups
from fer_core.storage.db import make_engine, session_factory, upgrade
from fer_core.storage.orm import MediaFile
from fer_core.storage.repository import get_or_create_session, save_faces


def _faces(rng, n: int, people: int) -> list[dict]:
    faces = []
    for i in range(n):
        preds = {}
        for model in OPINIONS:
            p = rng.dirichlet(np.ones(len(EMOTIONS)) * 0.5)
            top = int(p.argmax())
            preds[model] = {"label": EMOTIONS[top], "confidence": float(p[top]), "probs": dict(zip(EMOTIONS, p))}
        faces.append(
            {
                "frame": i,
                "t_s": i * 0.5,
                "box": [0, 0, 48, 48],
                "det_score": 0.9,
                "track": i % people,
                "predictions": preds,
            }
        )
    return faces


def build(folder: Path, *, faces: int, reviewed: int):
    engine = make_engine(f"sqlite:///{folder / 'fer.db'}")
    upgrade(engine)
    rng = np.random.default_rng(0)
    ids = {}
    with session_factory(engine)() as db:
        for name, n in (("measured", faces), ("reviewed", reviewed)):
            fs = get_or_create_session(db, name=name, tags=["panel"])
            media = MediaFile(session_id=fs.id, original_name=f"{name}.mp4", kind="video", sha256=name, bytes=1)
            media.status = "done"
            db.add(media)
            db.flush()
            ids[name] = (fs.id, save_faces(db, media=media, run_id=None, faces=_faces(rng, n, 30), versions={}))
        db.commit()
    truth = rng.choice(EMOTIONS, reviewed)
    service.review_faces(list(zip(ids["reviewed"][1], truth)), reviewer="bench", engine=engine)
    return engine, ids["measured"][0]


def timed(fn, repeat: int) -> tuple[float, float]:
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return round(first, 4), round(statistics.median(runs), 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=300)
    ap.add_argument("--reviewed", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine, session = build(Path(tmp), faces=args.faces, reviewed=args.reviewed)
        out = {"faces": args.faces, "reviewed": args.reviewed}
        for by in ("file", "person"):
            for correct in (False, True):
                first, warm = timed(
                    lambda: groups.session_summary(session, by=by, engine=engine, correct=correct), args.repeat
                )
                out[f"{by}_{'corrected' if correct else 'raw'}_s"] = {"first": first, "next": warm}
        records = groups.session_summary(session, by="file", engine=engine)
        out["corrected"] = records[0]["corrected"]
        print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Time every dashboard query on a database of 1,000,000 predictions.

    python benchmarks/queries.py [--predictions 1000000] [--db /tmp/fer_bench.db] [--url URL]

Builds (once; reused when the file already holds enough rows) a database of
200 sessions over a year, each with videos whose faces carry 3 predictions
(resnet50, vgg16, ensemble), then times each query in fer_core.storage.queries
(best of 3 runs) and prints one JSON line per query.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fer_core.constants import EMOTIONS  # noqa: E402
from fer_core.storage import queries as Q  # noqa: E402
from fer_core.storage.db import make_engine, upgrade  # noqa: E402
from fer_core.storage.orm import (  # noqa: E402
    FaceDetection,
    FeedbackSession,
    MediaFile,
    Prediction,
    SessionTag,
)
from fer_core.storage.repository import summarise_media  # noqa: E402

SESSIONS, VIDEOS_PER_SESSION = 200, 5
TAGS = ["store-1", "store-2", "product-x", "product-y", "support", "interview"]


def build(engine, n_predictions: int) -> None:
    rng = np.random.default_rng(0)
    faces_total = n_predictions // 3
    per_video = faces_total // (SESSIONS * VIDEOS_PER_SESSION)
    start = datetime(2026, 1, 1)
    det_id = 0
    with engine.begin() as c:
        for s in range(SESSIONS):
            sid = c.execute(
                insert(FeedbackSession).values(
                    name=f"session {s:03d}",
                    recorded_at=start + timedelta(days=int(rng.integers(0, 365)), hours=10),
                    consent=True,
                )
            ).inserted_primary_key[0]
            c.execute(insert(SessionTag), [{"session_id": sid, "tag": t} for t in rng.choice(TAGS, 2, replace=False)])
            for v in range(VIDEOS_PER_SESSION):
                mid = c.execute(
                    insert(MediaFile).values(
                        session_id=sid,
                        original_name=f"video {v}.mp4",
                        kind="video",
                        sha256=f"{s}-{v}",
                        bytes=1,
                        status="done",
                        fps=30.0,
                        duration_s=per_video / 2,
                    )
                ).inserted_primary_key[0]
                t = np.arange(per_video) * 0.5
                dets = [
                    {
                        "id": det_id + i + 1,
                        "media_id": mid,
                        "session_id": sid,
                        "frame": int(i * 15),
                        "t_s": float(t[i]),
                        "x": 10,
                        "y": 10,
                        "w": 80,
                        "h": 80,
                        "det_score": 0.9,
                        "track": 0,
                    }
                    for i in range(per_video)
                ]
                c.execute(insert(FaceDetection), dets)
                logits = rng.normal(size=(per_video, 2, 7)) + np.array([0, -2, 0, 1, 0, 0, 1])
                p = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
                preds = []
                for i in range(per_video):
                    for model, probs in (("resnet50", p[i, 0]), ("vgg16", p[i, 1]), ("ensemble", p[i].mean(0))):
                        k = int(probs.argmax())
                        preds.append(
                            {
                                "detection_id": det_id + i + 1,
                                "model": model,
                                "model_version": "bench",
                                "label": EMOTIONS[k],
                                "confidence": float(probs[k]),
                                **{f"p_{e}": float(x) for e, x in zip(EMOTIONS, probs)},
                            }
                        )
                c.execute(insert(Prediction), preds)
                summarise_media(c, media_id=mid)  # as ingest does, in the same transaction
                det_id += per_video
            if s % 20 == 19:
                print(f"built {s + 1}/{SESSIONS} sessions", file=sys.stderr, flush=True)


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--predictions", type=int, default=1_000_000)
    ap.add_argument("--db", default="/tmp/fer_bench.db")
    ap.add_argument("--url", default=None, help="any SQLAlchemy URL instead of --db")
    args = ap.parse_args()
    engine = make_engine(args.url or f"sqlite:///{args.db}")
    upgrade(engine)
    with engine.connect() as c:
        have = c.execute(select(func.count()).select_from(Prediction)).scalar()
    if have < args.predictions * 0.99:
        t = time.perf_counter()
        build(engine, args.predictions)
        print(json.dumps({"built_predictions": args.predictions, "seconds": round(time.perf_counter() - t, 1)}))
    with engine.connect() as c:
        n = c.execute(select(func.count()).select_from(Prediction)).scalar()
        sid = c.execute(select(FeedbackSession.id).limit(1)).scalar()
        mid = c.execute(select(MediaFile.id).where(MediaFile.session_id == sid).limit(1)).scalar()
    checks = {
        "totals": lambda: Q.totals(engine),
        "sessions_overview": lambda: Q.sessions_overview(engine, limit=20),
        "emotion_distribution(one session)": lambda: Q.emotion_distribution(engine, session_id=sid),
        "emotion_distribution(all sessions)": lambda: Q.emotion_distribution(engine),
        "distribution_over_time(week, all)": lambda: Q.distribution_over_time(engine, freq="week"),
        "distribution_over_time(month, tag, dates, model)": lambda: Q.distribution_over_time(
            engine,
            freq="month",
            tags=["store-1"],
            start=datetime(2026, 3, 1),
            end=datetime(2026, 9, 30),
            model="ensemble",
        ),
        "video_timeline(1 s bins)": lambda: Q.video_timeline(engine, media_id=mid, bin_s=1.0),
        "video_timeline(per track)": lambda: Q.video_timeline(engine, media_id=mid, bin_s=5.0, by_track=True),
        "model_agreement(one session)": lambda: Q.model_agreement(engine, session_id=sid),
        "model_agreement(all)": lambda: Q.model_agreement(engine),
        "confidence_histogram(all)": lambda: Q.confidence_histogram(engine),
        "disagreements(all, latest 18)": lambda: Q.disagreements(engine, limit=18),
        "face_predictions(one session)": lambda: Q.face_predictions(engine, session_id=sid),
    }
    for name, fn in checks.items():
        print(json.dumps({"query": name, "predictions_in_db": n, "seconds": round(timed(fn), 3)}), flush=True)


if __name__ == "__main__":
    main()

"""Storage on SQLite and PostgreSQL: migrations, ingest, duplicates, interruption, deletion, queries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from fer_core import Analyzer, AnalyzerConfig
from fer_core.constants import EMOTIONS
from fer_core.service import ingest
from fer_core.storage import queries as Q
from fer_core.storage.db import (
    alembic_config,
    downgrade,
    make_engine,
    session_factory,
    upgrade,
)
from fer_core.storage.orm import (
    AnalysisRun,
    FaceDetection,
    FeedbackSession,
    MediaFile,
    Prediction,
)
from fer_core.storage.repository import (
    delete_session,
    get_or_create_session,
    save_faces,
)

from conftest import (
    REPO,
    ScratchPostgres,
    background,
    needs_weights,
    paste,
    write_video,
)

PG_URL = os.environ.get("FER_TEST_POSTGRES_URL")


def _backends():
    yield "sqlite"
    yield pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL and not os.environ.get("CI"),
            reason="no PostgreSQL: export FER_TEST_POSTGRES_URL=$(bash scripts/start_postgres.sh)",
        ),
    )


@pytest.fixture(params=list(_backends()))
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fer.db'}"
        return
    assert PG_URL, "CI must run the PostgreSQL tests: .ci/run sets FER_TEST_POSTGRES_URL"
    db = ScratchPostgres(PG_URL)
    yield db.url
    db.drop()


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def analyzer():
    return Analyzer(AnalyzerConfig())


# ----------------------------------------------------------------------------- schema
def test_migrations_upgrade_check_downgrade_upgrade(db_url):
    from alembic import command

    eng = make_engine(db_url)
    upgrade(eng)
    command.check(alembic_config(eng))  # raises if the ORM and the migrations disagree
    tables = set(inspect(eng).get_table_names())
    assert {"feedback_session", "session_tag", "media_file", "analysis_run", "face_detection", "prediction"} <= tables
    downgrade(eng, "base")
    assert set(inspect(eng).get_table_names()) <= {"alembic_version"}
    upgrade(eng)
    assert "prediction" in inspect(eng).get_table_names()
    eng.dispose()


def test_summary_migration_backfills_existing_predictions(db_url):
    eng = make_engine(db_url)
    upgrade(eng, "0001")  # a database from before the summary table existed
    with eng.begin() as c:
        sid = c.execute(
            insert(FeedbackSession).values(name="old", consent=False, created_at=datetime(2026, 1, 1))
        ).inserted_primary_key[0]
        mid = c.execute(
            insert(MediaFile).values(
                session_id=sid,
                original_name="a.jpg",
                kind="photo",
                sha256="x",
                bytes=1,
                status="done",
                created_at=datetime(2026, 1, 1),
            )
        ).inserted_primary_key[0]
        for i, label in enumerate(["happy", "happy", "sad"]):
            did = c.execute(
                insert(FaceDetection).values(
                    media_id=mid, session_id=sid, frame=0, t_s=0, x=i, y=0, w=9, h=9, det_score=1
                )
            ).inserted_primary_key[0]
            probs = {f"p_{e}": (0.7 if e == label else 0.05) for e in EMOTIONS}
            for model, said in (("vgg16", label), ("resnet50", "happy")):
                probs = {f"p_{e}": (0.7 if e == said else 0.05) for e in EMOTIONS}
                c.execute(
                    insert(Prediction).values(
                        detection_id=did, model=model, model_version="v", label=said, confidence=0.7, **probs
                    )
                )
    upgrade(eng)
    r = Q.emotion_distribution(eng).set_index("emotion")
    r = r[r.model == "vgg16"]
    assert r.loc["happy", "faces"] == 2 and r.loc["sad", "faces"] == 1
    assert r.loc["happy", "mean_prob"] == pytest.approx((0.7 + 0.7 + 0.05) / 3)
    agreement = Q.model_agreement(eng)  # label pairs rebuilt with their models' names (0006)
    assert agreement["faces"] == 3 and agreement["crosstab"].loc["happy", "sad"] == 1
    eng.dispose()


def test_foreign_keys_are_enforced(engine):
    with session_factory(engine)() as db:
        with pytest.raises(IntegrityError):
            db.execute(
                insert(FaceDetection).values(
                    media_id=999, session_id=999, frame=0, t_s=0, x=0, y=0, w=1, h=1, det_score=1.0
                )
            )
            db.flush()


def test_sqlite_runs_in_wal_mode(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with eng.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1


# ----------------------------------------------------------------------------- ingest
@needs_weights
def test_ingest_photos_video_and_a_broken_file(engine, analyzer, upload, tmp_path):
    progress = []
    summary = ingest(
        upload,
        engine=engine,
        analyzer=analyzer,
        session_name="Panel A",
        recorded_at=datetime(2026, 11, 2, 10),
        participant="P7",
        tags=["store-12", "product-x"],
        media_root=tmp_path / "media",
        on_progress=lambda f, m: progress.append(f),
    )
    got = {f.file: f for f in summary.files}
    assert [f.file for f in summary.files] == [p.name for p in upload]
    assert got["broken.jpg"].status == "failed" and "broken.jpg" in got["broken.jpg"].error
    assert got["one face.jpg"].status == "done" and got["one face.jpg"].faces == 1
    assert got["two faces é.png"].faces == 2
    assert got["two faces.mp4"].faces == 12  # 2 faces x 6 sampled frames
    assert not summary.ok and progress[-1] == pytest.approx(1.0)
    with session_factory(engine)() as db:
        fs = db.get(FeedbackSession, summary.session_id)
        assert fs.name == "Panel A" and {t.tag for t in fs.tags} == {"store-12", "product-x"}
        n_faces = db.scalar(select(func.count()).select_from(FaceDetection))
        n_preds = db.scalar(select(func.count()).select_from(Prediction))
        assert n_faces == 15 and n_preds == 3 * n_faces  # resnet50, vgg16, ensemble per face
        video = db.scalar(select(MediaFile).where(MediaFile.kind == "video"))
        assert video.fps == pytest.approx(30) and video.frames_analyzed == 6 and Path(video.stored_path).exists()
    # same files again: everything already stored is skipped, the broken file is tried again
    again = ingest(upload, engine=engine, analyzer=analyzer, session_name="Panel A", media_root=tmp_path / "media")
    assert [f.status for f in again.files] == ["skipped", "failed", "skipped", "skipped"]
    assert again.session_id == summary.session_id
    with session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(FaceDetection)) == 15
        assert db.scalar(select(func.count()).select_from(MediaFile)) == 4


@needs_weights
def test_ingest_cli_contract(db_url, upload, tmp_path):
    env = {**os.environ, "DATABASE_URL": db_url, "FER_HOME": str(tmp_path)}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fer_core",
            "ingest",
            "--session",
            "CLI session",
            "--tags",
            "a,b",
            "--recorded-at",
            "2026-11-20T09:30",
            *map(str, upload[:3]),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    assert out.returncode == 1, out.stderr  # the broken file failed
    summary = json.loads(out.stdout)
    assert set(summary) == {"session_id", "files"}
    assert [(f["status"], f["faces"]) for f in summary["files"]] == [("done", 1), ("failed", 0), ("done", 2)]
    assert all(set(f) == {"file", "status", "faces", "people", "error"} for f in summary["files"])
    assert [f["people"] for f in summary["files"]] == [1, 0, 2]  # a photo's faces are its people
    assert summary["files"][0]["error"] is None and summary["files"][1]["error"]
    out = subprocess.run(
        [sys.executable, "-m", "fer_core", "ingest", "--session", "CLI session", str(upload[0])],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    assert out.returncode == 0 and json.loads(out.stdout)["files"][0]["status"] == "skipped"


@needs_weights
def test_ingest_killed_mid_file_leaves_nothing_half_written(db_url, tmp_path, faces):
    frames = []
    for i in range(600):  # 20 s at 30 fps: long enough to be killed while analysing
        img = background(360, 640, seed=3)
        paste(img, faces[7], 200 + i % 40, 80, 180)
        frames.append(img)
    video = write_video(tmp_path / "long.mp4", frames, 30)
    env = {**os.environ, "DATABASE_URL": db_url, "FER_HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "fer_core", "ingest", "--session", "Killed", str(video)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    deadline = time.time() + 300
    for line in proc.stderr:  # wait until the video is being analysed
        if "long.mp4:" in line and "%" in line or time.time() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    eng = make_engine(db_url)
    with session_factory(eng)() as db:
        assert db.scalar(select(func.count()).select_from(MediaFile)) == 0
        assert db.scalar(select(func.count()).select_from(FaceDetection)) == 0
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["files"][0]["status"] == "done"
    with session_factory(eng)() as db:
        assert db.scalar(select(func.count()).select_from(MediaFile)) == 1
        assert db.scalar(select(func.count()).select_from(FaceDetection)) == 40
        runs = db.scalars(select(AnalysisRun).order_by(AnalysisRun.id)).all()
        assert all(r.finished_at is not None for r in runs)  # the killed run has an end too
        assert [bool(r.settings.get("interrupted")) for r in runs] == [True, False]
    eng.dispose()


# ----------------------------------------------------------------------------- delete
def _fake_faces(n: int, *, label: int, t0: float = 0.0, track: int | None = 0, other: int | None = None):
    """Hand-made faces whose probabilities are known: resnet50 says ``label``, vgg16 ``other`` (default same)."""
    out = []
    for i in range(n):
        preds = {}
        for model, lab in (("resnet50", label), ("vgg16", label if other is None else other)):
            probs = {e: 0.05 for e in EMOTIONS}
            probs[EMOTIONS[lab]] = 0.7
            preds[model] = {"label": EMOTIONS[lab], "confidence": 0.7, "probs": probs}
        ens = {e: (preds["resnet50"]["probs"][e] + preds["vgg16"]["probs"][e]) / 2 for e in EMOTIONS}
        top = max(ens, key=ens.get)
        preds["ensemble"] = {"label": top, "confidence": ens[top], "probs": ens}
        out.append(
            {
                "frame": i,
                "t_s": t0 + 0.5 * i,
                "box": [10, 10, 50, 50],
                "det_score": 0.9,
                "track": track,
                "predictions": preds,
            }
        )
    return out


def _add_media(db, session_name, faces, *, recorded_at=None, tags=(), stored_path=None, sha=None):
    fs = get_or_create_session(db, name=session_name, recorded_at=recorded_at, tags=list(tags))
    media = MediaFile(
        session_id=fs.id,
        original_name="clip.mp4",
        kind="video",
        sha256=sha or uuid.uuid4().hex,
        bytes=1,
        status="done",
        stored_path=stored_path,
    )
    db.add(media)
    db.flush()
    save_faces(db, media=media, run_id=None, faces=faces, versions={"resnet50": "t", "vgg16": "t", "ensemble": "t"})
    db.commit()
    return fs.id, media.id


def test_delete_session_removes_rows_and_files(engine, tmp_path):
    stored = tmp_path / "media" / "x.jpg"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"a face")
    with session_factory(engine)() as db:
        sid, _ = _add_media(db, "Delete me", _fake_faces(3, label=3), stored_path=str(stored), tags=["t"])
        keep, _ = _add_media(db, "Keep me", _fake_faces(2, label=4))
        assert delete_session(db, session_id=sid, media_root=tmp_path / "media")
        assert not stored.exists()
        assert db.get(FeedbackSession, sid) is None
        assert db.scalar(select(func.count()).select_from(FaceDetection)) == 2
        assert db.scalar(select(func.count()).select_from(Prediction)) == 6
        assert not delete_session(db, session_id=sid)


# ----------------------------------------------------------------------------- queries
@pytest.fixture
def filled(engine):
    with session_factory(engine)() as db:
        a, media_a = _add_media(
            db,
            "Mon panel",
            _fake_faces(6, label=3) + _fake_faces(2, label=4, t0=3.0, track=1),
            recorded_at=datetime(2026, 11, 2, 10),
            tags=["store-12"],
        )
        b, _ = _add_media(
            db, "Thu call", _fake_faces(4, label=0, other=2), recorded_at=datetime(2026, 11, 5, 15), tags=["support"]
        )
        c, _ = _add_media(
            db, "Next month", _fake_faces(5, label=6), recorded_at=datetime(2026, 12, 1, 9), tags=["store-12"]
        )
    return {"a": a, "b": b, "c": c, "media_a": media_a}


def test_emotion_distribution(engine, filled):
    df = Q.emotion_distribution(engine, session_id=filled["a"])
    assert set(df["model"]) == {"resnet50", "vgg16", "ensemble"} and len(df) == 21
    r = df[df.model == "resnet50"].set_index("emotion")
    assert r.loc["happy", "faces"] == 6 and r.loc["sad", "faces"] == 2 and r.loc["angry", "faces"] == 0
    assert r["label_share"].sum() == pytest.approx(1.0)
    assert r.loc["happy", "mean_prob"] == pytest.approx((6 * 0.7 + 2 * 0.05) / 8)
    everything = Q.emotion_distribution(engine)
    assert set(everything["session_id"]) == {filled["a"], filled["b"], filled["c"]}


def test_distribution_over_time_with_filters(engine, filled):
    weekly = Q.distribution_over_time(engine, freq="week", model="resnet50")
    # 2 and 5 November 2026 share the week starting Monday 2 November; 1 December is in the week of 30 November
    assert sorted(weekly["period"].dt.strftime("%Y-%m-%d").unique()) == ["2026-11-02", "2026-11-30"]
    monthly = Q.distribution_over_time(engine, freq="month", model="resnet50")
    nov = monthly[monthly.period == "2026-11-01"]
    assert int(nov["faces"].iloc[0]) == 12 and int(nov["sessions"].iloc[0]) == 2
    daily = Q.distribution_over_time(engine, freq="day", tags=["store-12"], model="vgg16")
    assert sorted(daily["period"].dt.strftime("%Y-%m-%d").unique()) == ["2026-11-02", "2026-12-01"]
    ranged = Q.distribution_over_time(engine, freq="day", start=datetime(2026, 11, 3), end=datetime(2026, 11, 30))
    assert list(ranged["period"].dt.strftime("%Y-%m-%d").unique()) == ["2026-11-05"]
    for _, g in weekly.groupby("period"):
        assert g["share"].sum() == pytest.approx(1.0)


def test_video_timeline_bins_and_tracks(engine, filled):
    tl = Q.video_timeline(engine, media_id=filled["media_a"], bin_s=1.0, model="resnet50")
    # faces at 0, .5, 1, 1.5, 2, 2.5 (happy) and 3, 3.5 (sad)
    assert sorted(tl["t_s"].unique()) == [0.0, 1.0, 2.0, 3.0]
    happy = tl[tl.emotion == "happy"].set_index("t_s")["share"]
    assert happy[0.0] == pytest.approx(0.7) and happy[3.0] == pytest.approx(0.05)
    per_track = Q.video_timeline(engine, media_id=filled["media_a"], bin_s=2.0, model="resnet50", by_track=True)
    assert set(per_track["track"]) == {0, 1}
    assert per_track.groupby(["t_s", "track"])["faces"].first().sum() == 8
    # smoothed along each track: the same readings; the happy track and the sad one are never mixed
    smooth = Q.video_timeline(engine, media_id=filled["media_a"], bin_s=1.0, model="resnet50", smooth_s=2.5)
    assert smooth.groupby("t_s")["faces"].first().sum() == tl.groupby("t_s")["faces"].first().sum()
    happy_s = smooth[smooth.emotion == "happy"].set_index("t_s")["share"]
    assert happy_s.to_dict() == pytest.approx(happy.to_dict())


def test_smoothing_is_a_centred_moving_average_within_each_track():
    import pandas as pd

    rows = pd.DataFrame(
        {"t_s": [0, 0.5, 1, 1.5, 2, 2.5, 3, 0], "track": [0] * 7 + [1], **{e: [0.0] * 8 for e in EMOTIONS}}
    )
    rows["happy"] = [1, 0, 1, 0, 1, 0, 1, 1.0]
    smooth = Q.smooth_tracks(rows, window_s=2.5)["happy"].round(4).tolist()
    # at 1 s the window [-0.25, 2.25] holds the readings at 0 ... 2 s: 3 of 5 happy; track 1 alone stays
    assert smooth == [0.6667, 0.5, 0.6, 0.4, 0.6, 0.5, 0.6667, 1.0]


def test_model_agreement(engine, filled):
    agreement = Q.model_agreement(engine)
    assert agreement["faces"] == 17
    assert agreement["agreement"] == pytest.approx(13 / 17)  # the support call's 4 faces disagree
    assert agreement["crosstab"].loc["angry", "fear"] == 4
    per_class = agreement["per_class"].set_index("emotion")
    assert per_class.loc["angry", "agreement"] == 0 and per_class.loc["happy", "agreement"] == 1
    assert Q.model_agreement(engine, session_id=filled["a"])["agreement"] == 1.0


def test_face_level_queries(engine, filled):
    faces = Q.face_predictions(engine, media_id=filled["media_a"])
    assert len(faces) == 8 and list(faces["t_s"]) == sorted(faces["t_s"])
    assert (faces["label_resnet50"] == "happy").sum() == 6
    assert faces["satisfaction"].iloc[0] == pytest.approx(0.7 + 0.05 - 4 * 0.05)
    dis = Q.disagreements(engine)
    assert len(dis) == 4 and set(dis["label_resnet50"]) == {"angry"} and set(dis["label_vgg16"]) == {"fear"}
    assert Q.disagreements(engine, session_id=filled["a"]).empty
    hist = Q.confidence_histogram(engine)
    assert hist.groupby("model")["faces"].sum().to_dict() == {"ensemble": 17, "resnet50": 17, "vgg16": 17}
    assert set(hist[hist.model == "resnet50"]["confidence"].round(2)) == {0.7}
    media = Q.session_media(engine, session_id=filled["a"])
    assert list(media["faces"]) == [8]
    cross = Q.model_agreement(engine)["crosstab"]
    assert Q.cohen_kappa(cross) == pytest.approx(
        (13 / 17 - sum(cross.sum(axis=1) * cross.sum(axis=0)) / 17**2)
        / (1 - sum(cross.sum(axis=1) * cross.sum(axis=0)) / 17**2)
    )


def test_totals_and_sessions_overview(engine, filled):
    t = Q.totals(engine)
    assert (t["sessions"], t["media"], t["faces"]) == (3, 3, 17)
    overview = Q.sessions_overview(engine)
    assert list(overview["name"]) == ["Next month", "Thu call", "Mon panel"]
    assert list(overview["faces"]) == [5, 4, 8]


def test_queries_on_an_empty_database(engine):
    assert Q.emotion_distribution(engine).empty
    assert Q.distribution_over_time(engine).empty
    assert Q.model_agreement(engine)["agreement"] is None
    assert Q.totals(engine)["sessions"] == 0


@needs_weights
def test_reanalyse_session_with_other_settings(engine, analyzer, upload, tmp_path):
    from dataclasses import replace

    from fer_core.service import reanalyse_session

    first = ingest([upload[3]], engine=engine, analyzer=analyzer, session_name="Again", media_root=tmp_path / "m")
    assert first.files[0].faces == 12
    slower = Analyzer(replace(analyzer.config, fps=1.0))
    again = reanalyse_session(first.session_id, engine=engine, analyzer=slower)
    assert [(f.status, f.faces) for f in again.files] == [("done", 6)]  # 3 s at 1 frame/s, 2 faces
    with session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(FaceDetection)) == 6
        assert db.scalar(select(func.count()).select_from(Prediction)) == 18
        runs = db.scalars(select(AnalysisRun).order_by(AnalysisRun.id)).all()
        assert [(r.fps, r.settings["engine"]) for r in runs] == [(2.0, analyzer.engine()), (1.0, slower.engine())]
    dist = Q.emotion_distribution(engine, session_id=first.session_id)
    assert dist.groupby("model")["faces"].sum().tolist() == [6, 6, 6]


@needs_weights
def test_a_session_deleted_while_analysed_again_says_so(engine, analyzer, upload, tmp_path):
    """Another tab deletes the session while this one re-analyses it: a sentence, not StaleDataError, and no
    row of the session left behind (the deletion wins)."""
    from fer_core.service import SessionGone, delete_session, reanalyse_session

    first = ingest(
        [upload[0], upload[2]], engine=engine, analyzer=analyzer, session_name="Gone", media_root=tmp_path / "m"
    )
    deleted = []

    def meanwhile(fraction: float, message: str) -> None:
        if fraction > 0.6 and not deleted:  # the second file, after the first was replaced
            deleted.append(delete_session(first.session_id, engine=engine))

    with pytest.raises(SessionGone, match="deleted meanwhile"):
        reanalyse_session(first.session_id, engine=engine, analyzer=analyzer, on_progress=meanwhile)
    assert deleted == [True]
    with session_factory(engine)() as db:
        assert (
            db.scalar(select(func.count()).select_from(MediaFile).where(MediaFile.session_id == first.session_id)) == 0
        )
        assert db.scalar(select(func.count()).select_from(FaceDetection)) == 0
    with pytest.raises(SessionGone):  # and asked again later, the same sentence
        reanalyse_session(first.session_id, engine=engine, analyzer=analyzer)


@needs_weights
def test_keep_faces_only_or_nothing(engine, analyzer, upload, tmp_path):
    from fer_core.pipeline import face_path

    root = tmp_path / "media"
    faces_only = ingest(
        [upload[2]], engine=engine, analyzer=analyzer, session_name="Faces only", keep="faces", media_root=root
    )
    sid = faces_only.session_id
    with session_factory(engine)() as db:
        media = db.scalar(select(MediaFile).where(MediaFile.session_id == sid))
        assert media.stored_path is None
        ids = db.scalars(select(FaceDetection.id).where(FaceDetection.session_id == sid)).all()
    assert len(ids) == 2 and all(face_path(root, sid, i).stat().st_size > 1000 for i in ids)
    assert sorted(p.name for p in (root / str(sid)).rglob("*") if p.is_file()) == sorted(f"{i}.jpg" for i in ids)
    nothing = ingest(
        [upload[0]], engine=engine, analyzer=analyzer, session_name="Nothing", keep="none", media_root=root
    )
    assert nothing.files[0].status == "done" and not (root / str(nothing.session_id)).exists()
    with session_factory(engine)() as db:
        delete_session(db, session_id=sid, media_root=root)
    assert not (root / str(sid)).exists()

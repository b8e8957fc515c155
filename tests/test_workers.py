"""Scale-out: Celery workers on a real Redis broker and a real PostgreSQL database, two worker processes.

20 files are processed exactly once each; a worker killed with SIGKILL mid-job has
its job finished by the other, without duplicate rows; the results equal those of
in-process mode.  .ci/run starts both servers (scripts/start_redis.sh,
scripts/start_postgres.sh) and exports FER_TEST_REDIS_URL and FER_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from fer_core import Analyzer, AnalyzerConfig, jobs
from fer_core.service import ingest
from fer_core.storage.db import make_engine, session_factory, upgrade
from fer_core.storage.orm import AnalysisJob, FaceDetection, MediaFile, Prediction

from conftest import (
    REPO,
    ScratchPostgres,
    background,
    needs_weights,
    paste,
    write_video,
)

PG_URL = os.environ.get("FER_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("FER_TEST_REDIS_URL")
pytestmark = [
    needs_weights,
    pytest.mark.skipif(
        (not PG_URL or not REDIS_URL) and not os.environ.get("CI"),
        reason="needs Redis and PostgreSQL: export FER_TEST_REDIS_URL=$(bash scripts/start_redis.sh) "
        "FER_TEST_POSTGRES_URL=$(bash scripts/start_postgres.sh)",
    ),
]


class Worker:
    """One `python -m fer_core worker` process (in its own process group), its output collected."""

    def __init__(self, name: str, env: dict, threads: int = 1):
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fer_core", "worker", "--name", name, "--threads", str(threads)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.time() + timeout
        while not any("models loaded" in line for line in self.lines):
            assert self.proc.poll() is None, f"worker {self.name} died:\n{''.join(self.lines)[-3000:]}"
            assert time.time() < deadline, f"worker {self.name} not ready:\n{''.join(self.lines)[-3000:]}"
            time.sleep(0.5)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A fresh PostgreSQL database, a fresh Redis database, a shared media folder and two workers."""
    assert PG_URL and REDIS_URL, "CI must run these tests: .ci/run starts Redis and PostgreSQL"
    db = ScratchPostgres(PG_URL, prefix="fer_workers")
    db_url = db.url
    broker = REDIS_URL.rsplit("/", 1)[0] + "/3"
    import redis

    redis.Redis.from_url(broker).flushdb()
    home = tmp_path_factory.mktemp("cluster")
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "BROKER_URL": broker,
        "FER_HOME": str(home),
        "FER_MEDIA_STORE": str(home / "shared-media"),
        # quick recovery for the test: a killed worker's message returns after 20 s
        "FER_JOB_VISIBILITY_S": "20",
        "FER_JOB_RESTORE_EVERY_S": "2",
        "FER_JOB_STALE_S": "8",
        "FER_JOB_HEARTBEAT_S": "0.2",
    }
    engine = make_engine(db_url)
    upgrade(engine)
    workers = [Worker("w1", env), Worker("w2", env)]
    for w in workers:
        w.wait_ready()
    yield {"env": env, "engine": engine, "workers": workers, "home": home}
    for w in workers:
        w.stop()
    engine.dispose()
    db.drop()


def submit(cluster, files: list[Path], session: str) -> list[int]:
    out = subprocess.run(
        [sys.executable, "-m", "fer_core", "ingest", "--session", session, "--no-wait", *map(str, files)],
        capture_output=True,
        text=True,
        env=cluster["env"],
        cwd=REPO,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)["jobs"]


def results(engine, session_name: str) -> dict[str, list[tuple]]:
    """Per file: (frame, x, y, model, label, probabilities) of every prediction, in a stable order."""
    from fer_core.storage.orm import FeedbackSession

    stmt = (
        select(
            MediaFile.original_name,
            FaceDetection.frame,
            FaceDetection.x,
            FaceDetection.y,
            Prediction.model,
            Prediction.label,
            Prediction.p_angry,
            Prediction.p_disgust,
            Prediction.p_fear,
            Prediction.p_happy,
            Prediction.p_sad,
            Prediction.p_surprise,
            Prediction.p_neutral,
        )
        .join(FaceDetection, FaceDetection.media_id == MediaFile.id)
        .join(Prediction, Prediction.detection_id == FaceDetection.id)
        .join(FeedbackSession, FeedbackSession.id == MediaFile.session_id)
        .where(FeedbackSession.name == session_name)
        .order_by(MediaFile.original_name, FaceDetection.frame, FaceDetection.x, Prediction.model)
    )
    out: dict[str, list[tuple]] = {}
    with engine.connect() as c:
        for row in c.execute(stmt):
            out.setdefault(row[0], []).append(tuple(row[1:]))
    return out


@pytest.fixture(scope="module")
def twenty_photos(tmp_path_factory, faces) -> list[Path]:
    d = tmp_path_factory.mktemp("twenty")
    paths = []
    for k in range(20):
        img = background(480, 640, seed=100 + k)
        paste(img, faces[20 + k], 180 + 5 * k, 100, 220)
        paths.append(d / f"photo {k:02d}.jpg")
        cv2.imwrite(str(paths[-1]), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return paths


@pytest.fixture(scope="module")
def long_video(tmp_path_factory, faces) -> Path:
    """120 s at 4 fps (240 sampled frames): several seconds of work even on a fast machine, so the test can
    kill the worker in the middle of it (a 40 s clip was sometimes done between two progress beats)."""
    frames = []
    for i in range(480):
        img = background(360, 640, seed=7)
        paste(img, faces[50], 200 + i % 60, 80, 180)
        frames.append(img)
    return write_video(tmp_path_factory.mktemp("long") / "long session.mp4", frames, 4)


def test_twenty_files_are_processed_exactly_once_by_two_workers(cluster, twenty_photos):
    engine = cluster["engine"]
    ids = submit(cluster, twenty_photos, "Twenty")
    assert len(set(ids)) == 20
    outcomes = jobs.wait(ids, engine=engine, timeout_s=300)
    assert [o.status for o in outcomes] == ["done"] * 20, [o.error for o in outcomes]
    with session_factory(engine)() as db:
        rows = db.scalars(select(AnalysisJob).where(AnalysisJob.id.in_(ids))).all()
        assert all(j.attempts == 1 and j.status == "done" for j in rows)
        assert {j.worker.split("@")[0] for j in rows} == {"w1", "w2"}  # both took part
        media = db.scalars(select(MediaFile)).all()
        assert len(media) == 20 and len({m.sha256 for m in media}) == 20
        n_faces = db.scalar(select(func.count()).select_from(FaceDetection))
        assert n_faces == sum(o.faces for o in outcomes) and n_faces >= 18
        assert db.scalar(select(func.count()).select_from(Prediction)) == 3 * n_faces
    # submitting the same files again analyses nothing twice
    again = jobs.wait(submit(cluster, twenty_photos[:5], "Twenty"), engine=engine, timeout_s=120)
    assert [o.status for o in again] == ["skipped"] * 5
    with session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(MediaFile)) == 20


def test_a_worker_killed_mid_job_loses_nothing_and_duplicates_nothing(cluster, long_video, twenty_photos):
    engine = cluster["engine"]
    [video_job] = submit(cluster, [long_video], "Killed")
    deadline = time.time() + 120
    while True:  # wait until a worker is well into the video
        with session_factory(engine)() as db:
            job = db.get(AnalysisJob, video_job)
        if job.status == "running" and job.progress > 0.1:
            break
        assert time.time() < deadline, f"the video job never got going: {job.status} {job.message}"
        time.sleep(0.2)
    victim = next(w for w in cluster["workers"] if job.worker.startswith(w.name + "@"))
    victim.kill()
    [outcome] = jobs.wait([video_job], engine=engine, timeout_s=240)
    assert outcome.status == "done", outcome.error
    with session_factory(engine)() as db:
        job = db.get(AnalysisJob, video_job)
        assert job.attempts == 2 and not job.worker.startswith(victim.name + "@")
        media = db.scalars(select(MediaFile).where(MediaFile.original_name == long_video.name)).all()
        assert len(media) == 1
        faces = db.scalar(select(func.count()).select_from(FaceDetection).where(FaceDetection.media_id == media[0].id))
        assert faces == outcome.faces == 240  # 120 s at 2 frames/s, one face: each frame's face stored once

    # the same files analysed in-process (no broker) give the same results
    local = make_engine(f"sqlite:///{cluster['home'] / 'in-process.db'}")
    upgrade(local)
    analyzer = Analyzer(AnalyzerConfig())
    ingest(
        [long_video], engine=local, analyzer=analyzer, session_name="Killed", media_root=cluster["home"] / "local-media"
    )
    ingest(
        twenty_photos[:4],
        engine=local,
        analyzer=analyzer,
        session_name="Twenty",
        media_root=cluster["home"] / "local-media",
    )
    for session in ("Killed", "Twenty"):
        here, there = results(local, session), results(engine, session)
        for name, rows in here.items():
            theirs = there[name]
            assert [r[:5] for r in rows] == [r[:5] for r in theirs], name  # same faces, same labels
            np.testing.assert_allclose(
                np.array([r[5:] for r in rows]), np.array([r[5:] for r in theirs]), atol=1e-4, err_msg=name
            )


def test_the_upload_page_hands_files_to_the_workers(cluster, twenty_photos, monkeypatch, faces):
    from streamlit.testing.v1 import AppTest

    from resources import get_engine

    for key in ("DATABASE_URL", "BROKER_URL", "FER_HOME", "FER_MEDIA_STORE"):
        monkeypatch.setenv(key, cluster["env"][key])
    get_engine.clear()
    at = AppTest.from_file(str(REPO / "dashboard" / "router.py"), default_timeout=120).run()
    at.switch_page("views/upload.py").run()
    at.text_input[0].set_value("From the page")
    img = background(480, 640, seed=999)
    paste(img, faces[60], 200, 100, 220)
    at.file_uploader[0].upload("page photo.jpg", cv2.imencode(".jpg", img)[1].tobytes(), mime_type="image/jpeg")
    [b for b in at.button if b.label == "Analyse"][0].click().run()
    assert not at.exception, at.exception
    engine = cluster["engine"]
    with session_factory(engine)() as db:
        [job] = db.scalars(select(AnalysisJob).where(AnalysisJob.original_name == "page photo.jpg")).all()
    [outcome] = jobs.wait([job.id], engine=engine, timeout_s=120)
    assert outcome.status == "done" and outcome.faces == 1
    at.switch_page("views/jobs.py").run()
    assert not at.exception and "task-queue workers" in at.caption[0].value
    table = at.dataframe[0].value
    assert table.loc[table["file"] == "page photo.jpg", "status"].tolist() == ["done"]
    get_engine.clear()

"""Nothing leaks, nothing lingers, nothing crashes: duplicates, races, exports, secrets, user text, odd files.

Each test rebuilds a case a reviewer found (issue 24) on real databases, files and servers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_dashboard import fresh_database  # noqa: F401  (fixtures, as the tests' arguments)
from test_storage import analyzer, db_url, engine  # noqa: F401
from test_store import s3_server  # noqa: F401

from fer_core import jobs
from fer_core.constants import Keep
from fer_core.service import ingest
from fer_core.storage.db import make_engine, session_factory, upgrade
from fer_core.storage.orm import AnalysisJob, FeedbackSession, SessionTag

from conftest import needs_weights, page_tables


# ----------------------------------------------------------------------------- the same bytes twice
@needs_weights
@pytest.mark.parametrize("keep", [Keep.NONE, Keep.MEDIA])
def test_the_same_bytes_twice_in_one_upload_are_analysed_once(engine, analyzer, upload, tmp_path, keep):
    photo = upload[0]
    twin = tmp_path / "copy of the photo.jpg"
    shutil.copy(photo, twin)
    store = tmp_path / "media"
    summary = ingest([photo, twin], engine=engine, analyzer=analyzer, session_name="Twins", keep=keep, media_root=store)
    assert [(f.file, f.status, f.error) for f in summary.files] == [
        (photo.name, "done", None),
        (twin.name, "skipped", None),
    ]
    assert summary.files[1].media_id == summary.files[0].media_id
    with session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(AnalysisJob).where(AnalysisJob.source.is_not(None))) == 0
    kept = [p for p in store.rglob("*") if p.is_file()]
    assert len(kept) == (1 if keep == Keep.MEDIA else 0)  # no upload copy lingers


# ----------------------------------------------------------------------------- races
def _create_session(url: str, name: str, barrier) -> str:
    eng = make_engine(url)
    barrier.wait()
    try:
        jobs.submit([], engine=eng, session_name=name, tags=["race", name])
        return "ok"
    except Exception as exc:  # what a user would have seen
        return f"{type(exc).__name__}: {exc}"
    finally:
        eng.dispose()


def test_processes_creating_the_same_new_session_at_once_all_get_it(engine):
    url = engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("fork")
    n, rounds = 6, 5
    with ctx.Pool(n) as pool:
        for r in range(rounds):
            barrier = ctx.Manager().Barrier(n)
            results = pool.starmap(_create_session, [(url, f"Panel {r}", barrier)] * n)
            assert results == ["ok"] * n
    with session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(FeedbackSession)) == rounds
        assert db.scalar(select(func.count()).select_from(SessionTag)) == 2 * rounds


# ----------------------------------------------------------------------------- CSV exports
def test_csv_exports_cannot_run_as_spreadsheet_formulas():
    import pandas as pd

    from fer_core.exports import to_csv

    df = pd.DataFrame(
        {
            "session": ['=HYPERLINK("http://x.example","click")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "Store 12"],
            "satisfaction": [-0.25, 0.5, -1.0, 0.0, 0.1, 0.2],
        }
    )
    lines = to_csv(df).decode().splitlines()
    assert lines[1] == '"\'=HYPERLINK(""http://x.example"",""click"")",-0.25'
    assert [line.split(",")[0] for line in lines[2:]] == ["'+1+1", "'-2+3", "'@SUM(A1)", "'\t=1", "Store 12"]
    assert [float(line.rsplit(",", 1)[1]) for line in lines[1:]] == list(df["satisfaction"])  # numbers stay


def test_tables_on_the_pages_hold_no_formula(fresh_database):
    from test_dashboard import page
    from test_storage import _add_media, _fake_faces

    eng = make_engine(fresh_database)
    upgrade(eng)
    with session_factory(eng)() as db:
        sid, media_id = _add_media(db, "panel", _fake_faces(2, label=3))
    from fer_core import service

    service.name_people([(media_id, 0)], "=cmd|' /C calc'!A0", engine=eng)  # a person named by a user
    at = page("session")
    at.radio(key=f"section-{sid}").set_value("People").run()
    assert list(page_tables(at)[0]["person"]) == ["'=cmd|' /C calc'!A0"]


# ----------------------------------------------------------------------------- secrets
def test_passwords_in_urls_are_masked_wherever_shown_or_logged(fresh_database, monkeypatch, caplog, tmp_path):
    from fer_core import service, settings
    from fer_core.analyzer import Analyzer
    from fer_core.runner import LocalRunner

    assert settings.masked("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert settings.masked("at postgresql+psycopg://fer:s3cret@db/fer and amqp://u:p%40ss@mq//") == (
        "at postgresql+psycopg://fer:***@db/fer and amqp://u:***@mq//"
    )
    assert settings.masked("sqlite:////data/fer.db") == "sqlite:////data/fer.db"

    settings.mask_logs()
    import logging

    with caplog.at_level(logging.INFO):
        try:
            raise ConnectionError("cannot reach redis://:s3cret@cache:6379/0")
        except ConnectionError:
            logging.getLogger("fer_core.test").exception("broker %s", "redis://:s3cret@cache:6379/0")
    assert "s3cret" not in caplog.text and "redis://:***@cache" in caplog.text

    broker = "redis://:s3cret@127.0.0.1:9/0"  # nothing listens on port 9
    monkeypatch.setenv("BROKER_URL", broker)
    from test_dashboard import page

    at = page("jobs")
    assert "redis://:***@127.0.0.1:9/0" in at.caption[0].value and "s3cret" not in at.caption[0].value

    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"not even a photo")
    eng = make_engine(fresh_database)
    upgrade(eng)
    worker = Analyzer()
    started = service.start(
        [photo],
        engine=eng,
        analyzer=worker,
        runner=LocalRunner(engine=eng, analyzer=worker),
        session_name="Queued",
        store=None,
    )
    assert started.error and "could not be reached" in started.error and "s3cret" not in started.error


# ----------------------------------------------------------------------------- user text stays text
@needs_weights
def test_file_and_session_names_show_as_plain_text(group_photo, fresh_database):
    from test_dashboard import charts_of, page

    path, _ = group_photo
    name = "[x](http://evil.example) :red[y] $x$.jpg"
    at = page("upload", timeout=600)
    at.text_input[0].set_value("<a href='http://evil.example'>click</a>")
    at.file_uploader[0].upload(name, path.read_bytes(), mime_type="image/jpeg")
    [b for b in at.button if b.label == "Analyse"][0].click().run()
    assert not at.exception and page_tables(at)[0]["file"].tolist() == [name]
    [caption] = [img.caption for e in at.get("image") for img in e.proto.imgs]
    assert caption.startswith(r"\[x\]\(http\://evil\.example\) \:red\[y\] \$x\$\.jpg")  # no link, colour, LaTeX
    assert "(http://" not in caption

    at.switch_page("views/trends.py").run()
    at.button_group(key="trends-view").set_value("Sessions side by side").run()
    assert not at.exception
    figure = json.loads(charts_of(at)[-1].proto.spec)  # sessions side by side: the session's name on the axis
    shown = {x for trace in figure["data"] for x in trace["x"]}
    assert shown == {"&lt;a href='http://evil.example'&gt;click&lt;/a&gt;"}  # Plotly writes it, never links it


# ----------------------------------------------------------------------------- odd names and headers
def _avi(path, seconds: int = 10, fps: int = 10, frames_declared: int | None = None):
    """A real MJPEG AVI; ``frames_declared`` rewrites the frame count its headers claim (avih and strh)."""
    import struct

    import cv2
    import numpy as np

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (160, 120))
    for i in range(seconds * fps):
        writer.write(np.full((120, 160, 3), i % 255, np.uint8))
    writer.release()
    if frames_declared is not None:
        data = bytearray(path.read_bytes())
        avih, strh = data.find(b"avih"), data.find(b"strh")
        data[avih + 24 : avih + 28] = struct.pack("<I", frames_declared)  # dwTotalFrames
        data[strh + 40 : strh + 44] = struct.pack("<I", frames_declared)  # dwLength
        path.write_bytes(data)
    return path


@needs_weights
def test_nul_in_names_a_lying_frame_count_and_progress_in_the_users_words(engine, analyzer, upload, tmp_path):
    from fer_core.vision.media import video_info

    clip = _avi(tmp_path / "clip.avi", frames_declared=2**31 - 1)
    assert video_info(clip).duration_s == 0.0  # 2**31 frames cannot fit in this file: unknown, not believed
    messages = []
    summary = ingest(
        [upload[0], clip],
        engine=engine,
        analyzer=analyzer,
        session_name="Panel\x00 12",
        participant="P\x007",
        display_names=["bad\x00name.jpg", "interview clip.avi"],
        media_root=tmp_path / "media",
        on_progress=lambda f, m: messages.append(m),
    )
    assert [(f.file, f.status) for f in summary.files] == [("badname.jpg", "done"), ("interview clip.avi", "done")]
    with session_factory(engine)() as db:
        fs = db.get(FeedbackSession, summary.session_id)
        assert (fs.name, fs.participant) == ("Panel 12", "P7")
        from fer_core.storage.orm import MediaFile

        video = db.scalar(select(MediaFile).where(MediaFile.kind == "video"))
        assert 9.0 <= video.duration_s <= 10.0  # as far as it played
    assert messages and not any(re.search(r"[0-9a-f]{64}", m) for m in messages)  # no stored copy's name
    assert any("interview clip.avi" in m for m in messages)


# ----------------------------------------------------------------------------- a damaged database
def test_a_damaged_database_says_what_is_wrong_in_one_message(tmp_path, monkeypatch):
    import subprocess
    import sys

    from conftest import REPO

    bad = tmp_path / "fer.db"
    bad.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 64)  # a header, then garbage
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{bad}", "FER_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "fer_core", "jobs"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert out.returncode == 3 and "Traceback" not in out.stderr
    [line] = out.stderr.strip().splitlines()
    assert line.startswith(f"error: The database file {bad} is damaged or is not a database") and "backup" in line

    from test_dashboard import page

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{bad}")
    from resources import get_engine

    get_engine.clear()
    at = page()
    assert "cannot use its database" in at.error[0].value and str(tmp_path) not in at.error[0].value
    get_engine.clear()
    config = (REPO / ".streamlit" / "config.toml").read_text()
    assert re.search(r'^showErrorDetails = "none"', config, re.M)  # any other error: no traceback in the browser


# ----------------------------------------------------------------------------- a full disk
@pytest.fixture
def small_disk(tmp_path):
    """A real 3 MB filesystem (tmpfs) to hold the media store: it fills up as a real disk does."""
    import subprocess

    where = tmp_path / "small-disk"
    where.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(where)], capture_output=True)
    if made.returncode:
        pytest.skip(f"cannot mount a small filesystem here (needs root): {made.stderr.decode().strip()}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=True)


def _debris(folder) -> list:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".part")]


@needs_weights
def test_a_full_disk_is_said_in_words_leaves_no_debris_and_the_job_can_be_retried(
    engine, analyzer, upload, tmp_path, small_disk
):
    import numpy as np

    from fer_core.service import dispatch
    from fer_core.storage.store import LocalStore

    store = LocalStore(small_disk)
    big = tmp_path / "big video.mp4"
    big.write_bytes(np.random.default_rng(0).bytes(4_000_000))  # larger than the whole disk
    photo = upload[0]
    session_id, job_ids = jobs.submit(
        [big, photo], engine=engine, store=store, session_name="Full disk", keep=Keep.FACES
    )
    too_big = jobs.outcomes(job_ids[:1], engine=engine)[0]
    assert too_big.status == "failed" and "disk of the media store is full" in too_big.error
    assert "upload it again" in too_big.error and not _debris(small_disk)

    filler = small_disk / "filler"  # now the disk fills up while the photo is analysed (its face pictures)
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    [outcome] = dispatch(job_ids[1:], engine=engine, analyzer=analyzer, store=store)
    assert outcome.status == "failed" and "disk of the media store is full" in outcome.error, outcome.error
    assert "Traceback" not in outcome.error and not _debris(small_disk)
    with session_factory(engine)() as db:
        job = db.get(AnalysisJob, job_ids[1])
        assert job.status == "failed" and job.source  # its upload copy waits for the retry
    assert job_ids[1] in jobs.retryable(engine)

    filler.unlink()
    again = jobs.retry([job_ids[1]], engine=engine)
    [outcome] = dispatch(again, engine=engine, analyzer=analyzer, store=store)
    assert outcome.status == "done" and outcome.faces == 1


# ----------------------------------------------------------------------------- object storage caches
@needs_weights
def test_a_deleted_sessions_faces_are_never_served_again_from_a_cache(s3_server, analyzer, upload, tmp_path):
    import boto3

    from fer_core.service import delete_session
    from fer_core.storage.orm import FaceDetection
    from fer_core.storage.store import S3Store, face_key

    eng = make_engine(f"sqlite:///{tmp_path / 'fer.db'}")
    upgrade(eng)
    here, other_machine = S3Store(s3_server, cache_dir=tmp_path / "cache"), S3Store(s3_server, tmp_path / "cache2")

    def first_face(session_id):
        with session_factory(eng)() as db:
            det = db.scalar(select(func.min(FaceDetection.id)).where(FaceDetection.session_id == session_id))
        return here.location(face_key(session_id, det))

    def read(store, location):
        with store.local_file(location) as path:
            return path.read_bytes()

    first = ingest([upload[0]], engine=eng, analyzer=analyzer, session_name="First", keep=Keep.FACES, store=here)
    old = first_face(first.session_id)
    old_bytes = read(here, old)
    assert read(other_machine, old) == old_bytes
    delete_session(first.session_id, engine=eng, store=here)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]  # every copy here is gone
    with pytest.raises(FileNotFoundError):
        read(other_machine, old)  # and no other machine serves it from its cache

    second = ingest([upload[2]], engine=eng, analyzer=analyzer, session_name="Second", keep=Keep.FACES, store=here)
    new = first_face(second.session_id)
    assert new == old  # SQLite gave the new session and its face the deleted ones' ids
    bucket, key = new[5:].split("/", 1)
    truth = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert truth != old_bytes and read(here, new) == truth and read(other_machine, new) == truth
    delete_session(second.session_id, engine=eng, store=here)  # the S3 server's objects outlive this test
    eng.dispose()


# ----------------------------------------------------------------------------- nothing kept means nothing kept
@needs_weights
def test_keeping_nothing_keeps_no_failed_upload(engine, analyzer, upload, tmp_path):
    store = tmp_path / "media"
    summary = ingest(
        [upload[1]], engine=engine, analyzer=analyzer, session_name="None", keep=Keep.NONE, media_root=store
    )
    assert summary.files[0].status == "failed" and "damaged" in summary.files[0].error
    assert not [p for p in store.rglob("*") if p.is_file()]  # the broken file's copy is gone as well
    assert not jobs.retryable(engine)  # it would fail again: upload it again after repairing it


KILLED_MID_UPLOAD = """
import os, shutil, signal, sys, time
from pathlib import Path
from sqlalchemy import select
from fer_core import cleanup, service
from fer_core.analyzer import Analyzer
from fer_core.runner import LocalRunner
from fer_core.storage.db import make_engine
from fer_core.storage.orm import AnalysisJob
from fer_core.storage.store import LocalStore

url, root, *files = sys.argv[1:]
engine, store, analyzer = make_engine(url), LocalStore(root), Analyzer()
upload = cleanup.upload_folder()  # as the Upload page writes an upload
paths = [Path(shutil.copy(f, upload.name)) for f in files]
(Path(root) / "7").mkdir(parents=True, exist_ok=True)
(Path(root) / "7" / ("ab" * 32 + ".mp4.part")).write_bytes(b"half a copy")  # a copy the kill cut short
runner = LocalRunner(engine=engine, analyzer=analyzer, store=store)
service.start(paths, engine=engine, analyzer=analyzer, runner=runner, store=store, session_name="Killed", keep="none")
while True:
    with engine.connect() as c:
        if c.execute(select(AnalysisJob.status).where(AnalysisJob.status == "running")).first():
            os.kill(os.getpid(), signal.SIGKILL)  # the dashboard dies mid-analysis
    time.sleep(0.05)
"""


@needs_weights
def test_after_a_killed_dashboard_temp_copies_go_and_stranded_jobs_are_offered(
    engine, analyzer, upload, tmp_path, monkeypatch
):
    import subprocess
    import sys
    import tempfile
    import time

    from fer_core import cleanup
    from fer_core.service import dispatch
    from fer_core.storage.store import LocalStore

    from conftest import REPO

    monkeypatch.setenv("FER_JOB_STALE_S", "2")
    url = engine.url.render_as_string(hide_password=False)
    root = tmp_path / "media"
    files = [str(upload[3]), str(upload[0])]  # a video first: killed while it is analysed; the photo waits
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_MID_UPLOAD, url, str(root), *files], cwd=REPO, capture_output=True, timeout=300
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    left = [
        p
        for p in Path(tempfile.gettempdir()).glob(f"{cleanup.PREFIX}*")
        if not cleanup.alive(int(p.name.split("-")[2]))
    ]
    assert left  # the killed run's upload folder
    time.sleep(2.5)  # its running job's heartbeat goes stale

    removed = cleanup.sweep(engine, LocalStore(root), part_age_s=0, copy_age_s=0)
    assert removed["upload folders"] >= 1 and removed["part files"] == 1
    assert not any(p.exists() for p in left)
    offered = jobs.retryable(engine, include_queued=True)
    assert len(offered) == 2 and any("not started: the app was stopped" in why for why in offered.values())

    outcomes = dispatch(
        jobs.retry(list(offered), engine=engine), engine=engine, analyzer=analyzer, store=LocalStore(root)
    )
    assert [o.status for o in outcomes] == ["done", "done"]
    assert not [p for p in root.rglob("*") if p.is_file()]  # nothing kept, as asked

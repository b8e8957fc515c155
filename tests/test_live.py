"""Live runs without a browser: real frames of real faces handed to the live recording as a camera would, the
shipped models, a real SQLite database and media store. (The browser and WebRTC: tests/test_e2e_browser.py.)"""

from __future__ import annotations

import time

import numpy as np
import pytest
from sqlalchemy import func, select

from fer_core import Analyzer, AnalyzerConfig, service
from fer_core.live import LiveDestination, is_live
from fer_core.storage.db import make_engine, session_factory, upgrade
from fer_core.storage.orm import AnalysisRun, FaceDetection, FeedbackSession, Marker, MediaFile, Prediction
from fer_core.storage.store import media_store
from fer_core.vision.media import video_info

from conftest import camera_frames, needs_weights

pytestmark = needs_weights


@pytest.fixture(scope="module")
def analyzer():
    a = Analyzer(AnalyzerConfig.from_env())
    a.warm_up()
    return a


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_HOME", str(tmp_path))
    engine = make_engine(f"sqlite:///{tmp_path / 'fer.db'}")
    upgrade(engine)
    return engine


def _play(recording, frames, *, seconds: float, fps: float = 30.0, mark_at: float | None = None) -> list:
    """Offer ``frames`` (looped) at ``fps`` for ``seconds``, as a camera does; returns what came back."""
    back, start, i = [], time.monotonic(), 0
    while time.monotonic() - start < seconds:
        back.append(recording.offer(frames[i % len(frames)]))
        if mark_at is not None and i == int(mark_at * fps):
            recording.mark("price shown")
        i += 1
        time.sleep(max(0.0, start + i / fps - time.monotonic()))
    return back


def test_frames_are_dropped_not_queued_labelled_and_stored_as_one_recording(engine, analyzer, faces, tmp_path):
    frames = camera_frames(faces[:4], fps=30)
    rec = service.start_live(
        LiveDestination("Store 12 live", participant="P7", tags=["live"], keep="faces"),
        engine=engine,
        analyzer=analyzer,
        fps=5,
    )
    back = _play(rec, frames, seconds=4, mark_at=2.0)
    rec.stop()  # the frame being analysed is finished: nothing more comes
    stats = rec.stats()
    # 30 frames a second in, at most 5 analysed: the rest dropped, none waiting when the run stops
    assert stats.frames_in > 100 and stats.analysed <= 5 * stats.seconds + 1 and stats.analysed >= 5
    assert stats.readings >= stats.analysed - 2 and stats.people == 1 and stats.latency_ms["max"] > 0
    # the labelled frames went back: boxes drawn (pixels differ from the camera's) after the first analysis
    assert any(b is not f and b.shape == f.shape and (b != f).any() for b, f in zip(back, frames * 10))
    # each reading says whether the person looks at the camera and where the head points, as the page shows
    seen = rec.attention(10.0)
    assert 0.0 <= seen["looking"] <= 1.0 and seen["head"] in ("facing the camera", "turned left", "turned right",
        "turned up", "turned down", "turned left and up", "turned left and down", "turned right and up",
        "turned right and down")  # fmt: skip
    with session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(FeedbackSession)) == 0  # nothing written yet

    outcome = service.save_live(rec, engine=engine, store=media_store(tmp_path / "media"))
    assert outcome.status == "done" and outcome.faces == stats.readings and outcome.people == 1
    assert service.save_live(rec, engine=engine) is outcome  # stored once
    assert not list((tmp_path / "live").glob("*.jsonl"))  # its journal is gone with it
    with session_factory(engine)() as db:
        session = db.scalar(select(FeedbackSession))
        media = db.scalar(select(MediaFile))
        assert (
            session.name == "Store 12 live"
            and session.participant == "P7"
            and [t.tag for t in session.tags] == ["live"]
        )
        assert media.kind == "video" and is_live(media.sha256) and media.stored_path is None
        assert media.width == 640 and media.height == 480 and abs(media.duration_s - stats.seconds) < 0.5
        assert db.scalar(select(func.count()).where(FaceDetection.looking.is_not(None))) == outcome.faces
        times = db.scalars(select(FaceDetection.t_s).order_by(FaceDetection.t_s)).all()
        assert len(times) == outcome.faces and times[0] >= 0 and times[-1] <= media.duration_s
        models = set(db.scalars(select(Prediction.model).distinct()))
        assert models == {"resnet50", "vgg16", "ensemble"}
        [marker] = db.scalars(select(Marker)).all()
        assert marker.label == "price shown" and 1.5 < marker.start_s < 2.5 and marker.end_s is None
        run = db.scalar(select(AnalysisRun))
        assert run.settings["live"] is True and run.settings["live_stats"]["analysed"] == stats.analysed
    faces_kept = list((tmp_path / "media" / str(session.id) / "faces").glob("*.jpg"))
    assert len(faces_kept) == outcome.faces  # keep="faces": one small picture per reading

    # the report and the study's summaries treat it as a video
    from fer_core import report

    html = report.session_report(engine, session.id, fmt="html").decode()
    shown = html.replace("<bdi>", "").replace("</bdi>", "")  # names are isolated for right-to-left text
    assert f"Satisfaction over {media.original_name}" in shown and "price shown" in shown


def test_a_kept_live_video_plays_its_run_and_can_be_analysed_again(engine, analyzer, faces, tmp_path):
    rec = service.start_live(LiveDestination("Kept", keep="media"), engine=engine, analyzer=analyzer, fps=5)
    _play(rec, camera_frames(faces[:2], fps=15), seconds=3, fps=15)
    outcome = service.save_live(rec, engine=engine, store=media_store(tmp_path / "media"))
    with session_factory(engine)() as db:
        media = db.get(MediaFile, outcome.media_id)
        stored, duration, session_id = media.stored_path, media.duration_s, media.session_id
    info = video_info(stored)
    assert (info.width, info.height) == (640, 480) and abs(info.duration_s - duration) < 0.6
    assert rec.video_file is None or not rec.video_file.exists()  # the temporary copy is gone
    again = service.reanalyse_session(session_id, engine=engine, analyzer=analyzer)
    assert [f.status for f in again.files] == ["done"] and again.files[0].faces > 0


def test_bad_frames_and_empty_runs_lose_nothing(engine, analyzer, faces):
    with pytest.raises(ValueError, match="Give the session a name"):
        service.start_live(LiveDestination("  "), engine=engine, analyzer=analyzer)
    empty = service.start_live(LiveDestination("Never started"), engine=engine, analyzer=analyzer)
    assert service.save_live(empty, engine=engine) is None
    with session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(FeedbackSession)) == 0  # no empty session made

    rec = service.start_live(LiveDestination("Bumpy"), engine=engine, analyzer=analyzer, fps=10)
    small = [f[::2, ::2].copy() for f in camera_frames(faces[:2], fps=15)]  # a browser saving bandwidth
    rec.offer(np.zeros((5, 5), np.uint8)[None])  # not an image: its analysis fails, the run goes on
    time.sleep(0.5)
    assert rec.error and "could not be analysed" in rec.error
    _play(rec, small, seconds=2, fps=15)
    outcome = service.save_live(rec, engine=engine)
    assert outcome.faces > 0
    with session_factory(engine)() as db:
        media = db.get(MediaFile, outcome.media_id)
        assert (media.width, media.height) == (640, 480)  # the first good frame's size, at least 640 wide
        widths = db.scalars(select(FaceDetection.w).where(FaceDetection.media_id == media.id)).all()
        assert min(widths) > 150  # faces of 100 px in the halved frames, measured in the run's 640 px frame


CRASHING_RUN = """
import os, sys, time
import numpy as np
from fer_core import Analyzer, AnalyzerConfig, service
from fer_core.live import LiveDestination
from fer_core.storage.db import make_engine

frames = list(np.load(sys.argv[1])["frames"])
rec = service.start_live(LiveDestination("Crashed", participant="P9"), engine=make_engine(sys.argv[2]),
                         analyzer=Analyzer(AnalyzerConfig.from_env()), fps=5)
start, i = time.monotonic(), 0
while time.monotonic() - start < 3:
    rec.offer(frames[i % len(frames)])
    if i == 15:
        rec.mark("before the crash")
    i += 1
    time.sleep(1 / 15)
time.sleep(0.5)  # the frame being analysed is written
print(rec.stats().analysed, flush=True)
os._exit(1)  # killed: nothing stored
"""


def test_a_live_run_of_a_killed_dashboard_is_stored_by_the_next(engine, analyzer, faces, tmp_path):
    import os
    import subprocess
    import sys

    from conftest import REPO

    np.savez(tmp_path / "frames.npz", frames=np.stack(camera_frames(faces[:2], fps=15)))
    url = str(engine.url)
    env = {**os.environ, "FER_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, str(tmp_path / "frames.npz"), url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1, out.stderr[-2000:]
    analysed = int(out.stdout.strip().splitlines()[-1])
    [journal] = (tmp_path / "live").glob("live-*.jsonl")
    with session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(FeedbackSession)) == 0  # the dead run stored nothing

    mine = service.start_live(LiveDestination("Still running"), engine=engine, analyzer=analyzer)
    _play(mine, camera_frames(faces[:1], fps=15), seconds=0.5, fps=15)  # a run of this very process
    [outcome] = service.recover_live(engine, analyzer=analyzer)
    assert not journal.exists() and len(list((tmp_path / "live").glob("*.jsonl"))) == 1  # this process's run stays
    with session_factory(engine)() as db:
        session = db.scalar(select(FeedbackSession))
        media = db.get(MediaFile, outcome.media_id)
        assert session.name == "Crashed" and session.participant == "P9" and is_live(media.sha256)
        assert media.frames_analyzed == analysed and outcome.faces >= analysed - 1 and outcome.people == 1
        [marker] = db.scalars(select(Marker)).all()
        assert marker.label == "before the crash" and 0.5 < marker.start_s <= media.duration_s
        run = db.get(AnalysisRun, media.run_id)
        assert run.settings["recovered"] is True and run.settings["live"] is True
    assert service.recover_live(engine, analyzer=analyzer) == []  # once
    mine.discard()

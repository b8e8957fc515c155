"""End to end in a real browser: start the dashboard, upload a photo and a short video, see the charts.

Headless Chromium (Debian's package, installed by .ci/run) driven by Playwright. Screenshots of every
page go to test-artifacts/screenshots/.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, chromium_camera_args, needs_weights, run_live

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [needs_weights, pytest.mark.skipif(not CHROMIUM, reason="needs Chromium (apt-get install chromium)")]
SHOTS = REPO / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def e2e_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module")
def dashboard(e2e_home):
    home = e2e_home
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{home / 'fer.db'}", "FER_HOME": str(home)}
    env.pop("FER_DASHBOARD_PASSWORD_SHA256", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "dashboard/Home.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"the dashboard did not start: {proc.stdout.read().decode()[-2000:]}")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(fake_camera):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                *chromium_camera_args(fake_camera),  # for the Live page
            ],
        )
        yield b
        b.close()


def no_error_on(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]'
    ).first.inner_text()


def _video_time(page) -> float:
    return page.evaluate("() => document.querySelector('video') ? document.querySelector('video').currentTime : -1")


def _section(page, name: str) -> None:
    page.locator('[data-testid="stRadio"]').first.get_by_text(name, exact=True).click()


def _start_at(page, t: float) -> None:
    """Wait until the page's video plays from ``t`` (Streamlit seeks to the whole second: from there on)."""
    t = float(int(t))
    try:
        page.wait_for_function(
            "t => { const v = document.querySelector('video'); return v && !v.paused && v.currentTime > t + 0.1 }",
            arg=t,
            timeout=60_000,
        )
    except Exception:
        page.screenshot(path=str(SHOTS / "5-session-video-did-not-start.png"), full_page=True)
        state = page.evaluate(
            "() => [...document.querySelectorAll('video')].map(v => [v.currentTime, v.readyState, v.paused, v.src])"
        )
        pytest.fail(f"the video did not play from {t} s: {state}")


def test_upload_photo_and_video_then_see_charts(dashboard, browser, group_photo, two_face_video, e2e_home):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(300_000)
    page.goto(dashboard)
    page.get_by_text("No sessions yet").wait_for()
    no_error_on(page)
    page.screenshot(path=str(SHOTS / "1-home-empty.png"), full_page=True)

    page.goto(f"{dashboard}/upload")
    page.get_by_label("Session name").fill("Browser test panel")
    page.locator('input[type="file"]').set_input_files([str(group_photo[0]), str(two_face_video)])
    page.get_by_text(two_face_video.name).wait_for()
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text("Open the session's charts").wait_for()
    no_error_on(page)
    page.screenshot(path=str(SHOTS / "2-upload-done.png"), full_page=True)

    page.get_by_text("Open the session's charts").click()
    page.locator(".js-plotly-plot").first.wait_for()  # the overview's distribution per model
    no_error_on(page)
    page.screenshot(path=str(SHOTS / "3-session.png"), full_page=True)

    with page.expect_download() as download:  # export the first chart as PNG, as a user would
        page.get_by_role("button", name="PNG", exact=True).first.click()  # ours, not Plotly's own
    png = Path(download.value.path()).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    (SHOTS / "exported-chart.png").write_bytes(png)
    from fer_core.storage.db import make_engine
    from fer_core.trust import audit

    trail = audit.events(make_engine(f"sqlite:///{e2e_home / 'fer.db'}"), action="export chart")
    assert [e["target"].rsplit(".", 1)[-1] for e in trail] == ["png"]  # the export is in the audit trail

    asked = []  # a page opened by its address asks the server at the right place first (preload.base_script)
    page.on("request", lambda r: asked.append(r.url) if "/_stcore/" in r.url else None)
    for name in ("trends", "compare", "review", "manage", ""):
        page.goto(f"{dashboard}/{name}")
        page.locator('[data-testid="stMainBlockContainer"] h1').first.wait_for()
        page.wait_for_timeout(1500)
        no_error_on(page)
        page.screenshot(path=str(SHOTS / f"4-{name or 'home'}.png"), full_page=True)
    assert any(u.endswith("/_stcore/health") for u in asked)
    assert not [u for u in asked if any(f"/{n}/_stcore/" in u for n in ("trends", "compare", "review", "manage"))]
    assert page.locator('[data-testid="stMetric"]').count() >= 3  # home totals after the upload


def test_a_moment_clicked_plays_the_video_from_its_time(dashboard, browser):
    """After the upload above: the Session page's Videos section, a strongest moment clicked, and the video
    (an mp4v file, so an H.264 copy) plays from that moment; a marker added shows on the timeline."""
    page = browser.new_page(viewport={"width": 1300, "height": 1500})
    page.set_default_timeout(300_000)
    page.goto(f"{dashboard}/session")
    _section(page, "Videos")
    page.locator("video").wait_for()
    page.locator(".js-plotly-plot").nth(1).wait_for()  # timeline and satisfaction
    no_error_on(page)
    buttons = page.get_by_role("button", name=re.compile(r"(^|\s)[0-9.]+ s$"))  # each moment's time
    try:
        buttons.first.wait_for(timeout=60_000)
    finally:
        page.screenshot(path=str(SHOTS / "5-session-videos-before.png"), full_page=True)
    times = [float(b.inner_text().strip().split(" s")[0].split()[-1]) for b in buttons.all()]
    assert times, "no strongest moment to click"
    t = max(times)
    assert t > 0.5
    buttons.nth(times.index(t)).click()
    _start_at(page, t)
    assert page.evaluate("() => document.querySelector('video').currentTime") < 3.2  # the clip is 3 s long
    no_error_on(page)

    page.get_by_label("Label").fill("price shown")
    page.get_by_role("button", name="Add marker").click()
    page.get_by_text("price shown").first.wait_for()
    page.wait_for_timeout(1500)
    no_error_on(page)
    assert page.locator(".js-plotly-plot").first.get_by_text("price shown").count() >= 1  # on the timeline
    page.locator("video").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "5-session-videos.png"))  # the README's picture
    for name in ("People", "Segments", "Photos", "Faces"):
        _section(page, name)
        page.wait_for_timeout(2500)
        no_error_on(page)
        page.screenshot(path=str(SHOTS / f"5-session-{name.lower()}.png"), full_page=True)


def _benchmark_live_fps() -> float:
    """The analysed frames a second of the newest first run in a browser of benchmarks/live.py (the same
    procedure as this test's run)."""
    lines = [
        json.loads(line) for f in sorted((REPO / "benchmarks" / "results").glob("live_*.jsonl")) for line in f.open()
    ]
    return [line for line in lines if line["mode"] == "browser, first run"][-1]["fps"]


def test_a_live_run_through_the_camera_is_stored_as_a_recording(dashboard, browser, e2e_home):
    """The Live page with Chromium's fake camera playing real faces: about 10 s, a moment marked half-way,
    stopped; the session holds the readings (at least 80% of the benchmark's rate), a person and the marker,
    and its Videos section charts them."""
    import sqlite3

    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.set_default_timeout(120_000)
    run_live(page, dashboard, session="Live panel", seconds=10, screenshot=SHOTS / "6-live.png")
    no_error_on(page)
    with sqlite3.connect(e2e_home / "fer.db") as db:
        media_id, kind, sha, duration, stored = db.execute(
            "SELECT m.id, m.kind, m.sha256, m.duration_s, m.stored_path FROM media_file m "
            "JOIN feedback_session s ON s.id = m.session_id WHERE s.name = 'Live panel'"
        ).fetchone()
        readings, people = db.execute(
            "SELECT count(*), count(DISTINCT track) FROM face_detection WHERE media_id = ?", (media_id,)
        ).fetchone()
        models = {
            m
            for (m,) in db.execute(
                "SELECT DISTINCT model FROM prediction p JOIN face_detection d "
                "ON d.id = p.detection_id WHERE d.media_id = ?",
                (media_id,),
            )
        }
        markers = db.execute("SELECT start_s, label FROM marker WHERE media_id = ?", (media_id,)).fetchall()
    assert kind == "video" and sha.startswith("live-") and stored is None  # nothing kept but the readings
    assert 8 <= duration <= 30, duration
    assert readings >= 0.8 * _benchmark_live_fps() * duration, (readings, duration)
    assert people >= 1 and models == {"resnet50", "vgg16", "ensemble"}
    [(t, label)] = markers
    assert label == "moment" and 2 < t < duration - 2, (t, duration)

    page.get_by_role("link", name="Open the session's charts").click()
    try:
        _section(page, "Videos")
    finally:
        page.screenshot(path=str(SHOTS / "6-live-session.png"), full_page=True)
    timeline = page.locator(".js-plotly-plot").first
    timeline.wait_for()
    timeline.get_by_text("moment").first.wait_for()  # the marker on the run's timeline
    assert timeline.locator(".scatterlayer .trace").count() >= 1  # its readings
    no_error_on(page)
    page.screenshot(path=str(SHOTS / "6-live-session.png"), full_page=True)


def test_leaving_upload_mid_analysis_does_not_stop_it(dashboard, browser, e2e_home, faces, tmp_path):
    """Without a broker the dashboard's own runner thread analyses; opening another page must not stop it."""
    import sqlite3

    from conftest import background, paste, write_video

    frames = []
    for i in range(60 * 10):  # 60 s at 10 fps: about 120 sampled frames to analyse
        img = background(360, 640, seed=7)
        paste(img, faces[2], 200 + (i % 40), 90, 150)
        frames.append(img)
    video = write_video(tmp_path / "leave me.mp4", frames, 10)

    def job():
        with sqlite3.connect(e2e_home / "fer.db") as db:
            return db.execute(
                "SELECT status, faces FROM analysis_job WHERE original_name = ? ORDER BY id DESC", (video.name,)
            ).fetchone()

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(300_000)
    page.goto(f"{dashboard}/upload")
    page.get_by_label("Session name").fill("Left mid-analysis")
    page.locator('input[type="file"]').set_input_files([str(video)])
    page.get_by_text(video.name).wait_for()
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text("The analysis goes on if you open another page").wait_for()
    page.locator('[data-testid="stSidebarNav"] a', has_text="Jobs").click()
    page.locator('[data-testid="stMainBlockContainer"] h1', has_text="Jobs").wait_for()
    assert job()[0] in ("queued", "running")  # left before the end
    deadline = time.time() + 600
    while job()[0] in ("queued", "running") and time.time() < deadline:
        time.sleep(1)
    status, n_faces = job()
    assert status == "done" and n_faces > 0
    no_error_on(page)
    page.screenshot(path=str(SHOTS / "5-jobs-after-leaving-upload.png"), full_page=True)


def test_twenty_clients_load_every_page_while_an_ingest_writes(dashboard, e2e_home, faces, tmp_path):
    """Every page renders for 20 clients at once (Streamlit's WebSocket protocol, as a tab), with no error,
    while an ingest writes to the same SQLite file; the ingest's writes all succeed. (Times: benchmarks/load.py.)"""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from load import PAGES, load_every_page

    from conftest import background, paste, write_video

    frames = []
    for i in range(600):  # 20 s: the ingest writes while the pages load
        img = background(360, 640, seed=5)
        paste(img, faces[9], 200 + i % 40, 80, 180)
        frames.append(img)
    video = write_video(tmp_path / "under load.mp4", frames, 30)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{e2e_home / 'fer.db'}", "FER_HOME": str(e2e_home)}
    writer = subprocess.Popen(
        [sys.executable, "-m", "fer_core", "ingest", "--session", "Under load", str(video)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    rows = load_every_page(int(dashboard.rsplit(":", 1)[1]), clients=20, timeout_s=240)
    out, err = writer.communicate(timeout=600)
    bad = [r for r in rows if r["error"] or not r["title"]]
    assert writer.returncode == 0 and "locked" not in err, (err[-2000:], bad[:5])
    assert [f["status"] for f in json.loads(out)["files"]] == ["done"]
    assert len(rows) == 20 * len(PAGES)
    assert bad == [], bad[:5]

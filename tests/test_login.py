"""Login: a salted slow hash, throttled guesses that a new tab does not reset, logout, idle expiry, and no
upload before login (a real dashboard server, a real browser, real 150 MB uploads)."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from streamlit.testing.v1 import AppTest

from fer_core import login

from conftest import REPO

HOME = str(REPO / "dashboard" / "router.py")
PASSWORD = "correct horse battery"


@pytest.fixture
def password(monkeypatch, tmp_path):
    """Login on with a scrypt hash; a fresh throttle, as in a new dashboard process."""
    monkeypatch.setenv("FER_DASHBOARD_PASSWORD_HASH", login.hash_password(PASSWORD))
    monkeypatch.delenv("FER_DASHBOARD_PASSWORD_SHA256", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fer.db'}")
    import auth
    from resources import get_engine

    auth._throttle.clear()
    get_engine.clear()
    yield
    auth._throttle.clear()
    get_engine.clear()


def _tab() -> AppTest:
    return AppTest.from_file(HOME, default_timeout=60).run()


def test_the_hash_is_salted_and_slow_and_the_command_makes_it():
    a, b = login.hash_password(PASSWORD), login.hash_password(PASSWORD)
    assert a != b and a.startswith("scrypt$32768$8$1$")  # a new salt each time
    assert login.check(PASSWORD, scrypt_hash=a) and not login.check("wrong", scrypt_hash=a)
    t = time.perf_counter()
    login.check("wrong", scrypt_hash=a)
    assert time.perf_counter() - t > 0.01  # slow to guess (SHA-256 takes a microsecond)
    out = subprocess.run(
        [sys.executable, "-m", "fer_core", "hash-password"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    name, _, value = out.stdout.strip().partition("=")
    assert name == "FER_DASHBOARD_PASSWORD_HASH" and login.check(PASSWORD, scrypt_hash=value.strip("'"))


def test_wrong_guesses_slow_down_then_lock_out_for_a_while():
    now = [0.0]
    throttle = login.Throttle(free=3, base_s=2, max_wait_s=60, lockout_after=6, lockout_s=900, clock=lambda: now[0])
    waits = []
    for _ in range(6):
        assert throttle.wait_s("10.0.0.1") == 0 or waits
        throttle.failed("10.0.0.1")
        waits.append(throttle.wait_s("10.0.0.1"))
        now[0] += waits[-1]
    assert waits == [0, 0, 2, 4, 8, 900]  # growing delays, then the lockout
    assert throttle.wait_s("10.0.0.2") == 0  # per client address
    now[0] += 900
    assert throttle.wait_s("10.0.0.1") == 0  # it ends by itself
    many = login.Throttle(total_limit=5, total_window_s=600, clock=lambda: now[0])
    for i in range(5):
        many.failed(f"10.0.1.{i}")
    assert many.wait_s("10.0.9.9") > 0  # in total: a guesser with many addresses waits as well


def test_a_new_tab_does_not_reset_the_throttle(password, monkeypatch):
    import functools

    import auth

    # A wait far longer than the test, so that a slow machine cannot see it end before the fresh tab.
    monkeypatch.setattr(login, "Throttle", functools.partial(login.Throttle, base_s=600.0))
    auth._throttle.clear()
    at = _tab()
    for _ in range(3):
        at.text_input[0].set_value("").run()
        at.text_input[0].set_value("wrong guess").run()
        assert "Wrong password" in at.error[0].value
    at.text_input[0].set_value("").run()
    at.text_input[0].set_value("wrong again").run()
    assert "Too many wrong passwords: try again in" in at.error[0].value
    fresh = _tab()  # another tab, or another browser
    fresh.text_input[0].set_value(PASSWORD).run()
    assert "Too many wrong passwords" in fresh.error[0].value and not fresh.metric  # even the right one waits


def test_log_out_and_idle_expiry(password, monkeypatch):
    at = _tab()
    at.text_input[0].set_value(PASSWORD).run()
    assert not at.exception and not at.error and at.title[0].value == "Feedback emotions"
    [logout] = [b for b in at.sidebar.button if b.label == "Log out"]
    logout.click().run()
    assert "You are logged out." in at.info[0].value and len(at.text_input) == 1

    monkeypatch.setenv("FER_DASHBOARD_IDLE_MINUTES", "0.02")  # 1.2 s
    at = _tab()
    at.text_input[0].set_value(PASSWORD).run()
    assert [b.label for b in at.sidebar.button] == ["Log out"]
    time.sleep(1.5)
    at.run()
    assert "logged out after 0.02 minutes without activity" in at.info[0].value


def test_the_old_unsalted_form_still_works_with_a_warning(password, monkeypatch, caplog):
    import hashlib

    monkeypatch.delenv("FER_DASHBOARD_PASSWORD_HASH")
    monkeypatch.setenv("FER_DASHBOARD_PASSWORD_SHA256", hashlib.sha256(b"s3cret").hexdigest())
    import auth

    auth._warn_once.clear()
    with caplog.at_level("WARNING", logger="dashboard"):
        at = _tab()
        at.text_input[0].set_value("s3cret").run()
    assert not at.error and at.title[0].value == "Feedback emotions"
    assert "hash-password" in caplog.text


# ----------------------------------------------------------------------------- uploads before login
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _rss_mb(pid: int) -> float:
    total = 0.0
    for p in [pid, *map(int, subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split())]:
        for line in open(f"/proc/{p}/status"):
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def _put(port: int, session_id: str, mb: int, headers: dict | None = None) -> int:
    """Send an upload of ``mb`` MB as the browser does (multipart), streamed; returns the HTTP status."""
    boundary = "fer-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.putrequest("PUT", f"/_stcore/upload_file/{session_id}/file-1")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    conn.putheader("Content-Length", str(len(head) + mb * 2**20 + len(tail)))
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    conn.endheaders()
    try:
        conn.send(head)
        chunk = b"\0" * 2**20
        for _ in range(mb):
            conn.send(chunk)
        conn.send(tail)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused before the body was read: the server closed the connection
    status = conn.getresponse().status
    conn.close()
    return status


@pytest.mark.skipif(not CHROMIUM, reason="needs Chromium (apt-get install chromium)")
def test_no_upload_reaches_memory_before_login(tmp_path):
    from playwright.sync_api import sync_playwright
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fer.db'}",
        "FER_HOME": str(tmp_path),
        "FER_DASHBOARD_PASSWORD_HASH": login.hash_password(PASSWORD),
    }
    env.pop("FER_DASHBOARD_PASSWORD_SHA256", None)
    args = ["--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"]
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/Home.py", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            sessions = []

            def on_socket(ws):
                def frame(payload):
                    if isinstance(payload, bytes):
                        msg = ForwardMsg()
                        msg.ParseFromString(payload)
                        if msg.HasField("new_session"):
                            sessions.append(msg.new_session.initialize.session_id)

                ws.on("framereceived", frame)

            page.on("websocket", on_socket)
            page.goto(f"http://127.0.0.1:{port}")
            page.get_by_text("Password").first.wait_for(timeout=120_000)
            assert sessions, "no session started"
            session_id = sessions[0]  # a real tab, at the login page
            time.sleep(3)
            before = _rss_mb(server.pid)
            statuses = [_put(port, session_id, 150) for _ in range(10)]
            after = _rss_mb(server.pid)
            assert statuses == [403] * 10
            assert after - before < 100, (before, after)  # 1.5 GB sent; none of it kept or even read

            field = page.locator('input[type="password"]')
            field.fill(PASSWORD)
            field.press("Enter")
            page.get_by_text("Log out").wait_for(timeout=120_000)
            cookie = {c["name"]: c["value"] for c in page.context.cookies()}
            xsrf = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookie.items())}
            if "_streamlit_xsrf" in cookie:
                xsrf["X-Xsrftoken"] = cookie["_streamlit_xsrf"]
            assert _put(port, sessions[-1], 1, xsrf) != 403  # the same tab, logged in, may upload
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)

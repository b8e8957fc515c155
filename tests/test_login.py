"""Login: a salted slow hash, throttled guesses that a new tab does not reset, logout, idle expiry, and no
upload before login (a real dashboard server, a real browser, real 150 MB uploads)."""

from __future__ import annotations

import http.client
import shutil
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
    """Login on with a scrypt hash, on a new database (where the throttle counts wrong passwords)."""
    monkeypatch.setenv("FER_DASHBOARD_PASSWORD_HASH", login.hash_password(PASSWORD))
    monkeypatch.delenv("FER_DASHBOARD_PASSWORD_SHA256", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fer.db'}")
    from resources import get_engine

    get_engine.clear()
    yield
    get_engine.clear()


@pytest.fixture
def engine(tmp_path):
    from fer_core.storage.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'throttle.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


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


def test_wrong_guesses_slow_down_then_lock_out_for_a_while(engine):
    now = [1e9]
    clock = lambda: now[0]  # noqa: E731
    throttle = login.Throttle(engine, free=3, base_s=2, max_wait_s=60, lockout_after=6, lockout_s=900, clock=clock)
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
    many = login.Throttle(engine, total_limit=5, total_window_s=600, clock=clock)
    for i in range(5):
        many.failed(f"10.0.1.{i}")
    assert many.wait_s("10.0.9.9") > 0  # in total: a guesser with many addresses waits as well
    now[0] += 601
    assert many.wait_s("10.0.9.9") == 0  # and that ends by itself too
    again = login.Throttle(engine, clock=clock)  # another dashboard process on the same database
    for _ in range(3):
        again.failed("10.0.0.3")
    assert login.Throttle(engine, clock=clock).wait_s("10.0.0.3") == 2
    again.succeeded("10.0.0.3")
    assert again.wait_s("10.0.0.3") == 0


def test_a_new_tab_does_not_reset_the_throttle(password, monkeypatch):
    # A wait far longer than the test, so that a slow machine cannot see it end before the fresh tab.
    monkeypatch.setenv("FER_LOGIN_FIRST_WAIT_S", "600")
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

    from served import dashboard

    with dashboard(_login_env(tmp_path)) as (port, server):
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


# ----------------------------------------------------------------------------- a stranger's own client
WRONG = "Wrong password."
TOO_MANY = "Too many wrong passwords"


def _login_env(tmp_path, **extra) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fer.db'}",
        "FER_HOME": str(tmp_path / "home"),
        "FER_DASHBOARD_PASSWORD_HASH": login.hash_password(PASSWORD),
        "FER_DASHBOARD_PASSWORD_SHA256": "",
        **extra,
    }


def _guess(tab, word: str) -> str:
    """Type ``word`` in the password field and return what the page answered."""
    tab.run({"Password": ""})  # as a browser does between two entries
    answer = [t for t in tab.texts(tab.run({"Password": word})) if WRONG in t or TOO_MANY in t]
    return answer[0] if answer else ""


def test_a_raw_client_cannot_reset_the_throttle_nor_a_restart(tmp_path):
    """Guesses from a bare WebSocket client, then Streamlit's clear_cache message, a new connection and a restart
    of the dashboard: the wait holds through all of them (it is kept in the database)."""
    from served import RawTab, dashboard

    env = _login_env(tmp_path, FER_LOGIN_FIRST_WAIT_S="600")  # longer than the test: no race with the clock
    with dashboard(env) as (port, _):
        tab = RawTab(port)
        tab.run()
        assert "Password" in tab.widgets
        assert [_guess(tab, f"guess {i}") for i in range(3)] == [WRONG] * 3
        assert TOO_MANY in _guess(tab, "guess 4")
        tab.send(clear_cache=True)
        assert TOO_MANY in _guess(tab, "guess 5")
        fresh = RawTab(port)
        fresh.run()
        assert TOO_MANY in _guess(fresh, PASSWORD)  # even the right password waits
        tab.close(), fresh.close()
    with dashboard(env) as (port, _):  # a restarted dashboard (or a second process on the same database)
        tab = RawTab(port)
        tab.run()
        assert TOO_MANY in _guess(tab, "guess 6")
        tab.close()


@pytest.fixture(scope="module")
def stranger(tmp_path_factory):
    """A dashboard with a password, and a raw client's tab that has not logged in."""
    from served import RawTab, dashboard

    tmp = tmp_path_factory.mktemp("stranger")
    log = tmp / "server.log"
    with dashboard(_login_env(tmp), log=log) as (port, server):
        yield {"port": port, "server": server, "log": log, "tmp": tmp, "RawTab": RawTab}


def _fresh_tab(stranger, *, logged_in: bool = False):
    tab = stranger["RawTab"](stranger["port"])
    tab.run()
    if logged_in:
        tab.run({"Password": PASSWORD})
        tab.run()
        assert tab.session_id
    return tab


def _request(kind: str, session_id: str):
    """One BackMsg of each kind a stranger could send that asks the server for something."""
    from streamlit.proto.BackMsg_pb2 import BackendOperationRequest
    from streamlit.proto.Common_pb2 import FileURLsRequest

    if kind == "file_urls_request":
        return {kind: FileURLsRequest(request_id="r1", file_names=["big.mp4"], session_id=session_id)}
    if kind in ("set_run_on_save", "load_git_info", "clear_cache"):
        return {kind: True}
    op = BackendOperationRequest(request_id="r2", session_id=session_id)
    getattr(op, kind.split(":")[1]).SetInParent()
    return {"backend_operation_request": op}


ANSWERS = {  # the server's answer to each request, when it is let through
    "file_urls_request": "file_urls_response",
    "set_run_on_save": "run_on_save",
    "backend_operation_request:deferred_file": "backend_operation_response",
    "backend_operation_request:dataframe_chunk": "backend_operation_response",
    "backend_operation_request:install_skills": "backend_operation_response",
    "backend_operation_request:dismiss_skills_nudge": "backend_operation_response",
}


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_a_request_before_login_gets_no_answer(stranger, kind):
    tab = _fresh_tab(stranger)
    tab.send(**_request(kind, tab.session_id))
    answers = _answers(tab.receive(3))
    assert ANSWERS[kind] not in answers, answers
    tab.close()
    logged_in = _fresh_tab(stranger, logged_in=True)  # the same message after login is answered
    logged_in.send(**_request(kind, logged_in.session_id))
    assert ANSWERS[kind] in _answers(logged_in.receive(5))
    logged_in.send(set_run_on_save=False)
    logged_in.close()


def _answers(messages) -> list[str]:
    """The kinds of the server's messages; a status saying that the script reruns on save is "run_on_save"."""
    return [
        "run_on_save"
        if m.HasField("session_status_changed") and m.session_status_changed.run_on_save
        else m.WhichOneof("type")
        for m in messages
    ]


@pytest.mark.parametrize(
    "kind", ["clear_cache", "load_git_info", "debug_disconnect_websocket", "debug_shutdown_runtime"]
)
def test_a_message_before_login_is_dropped(stranger, kind):
    tab = _fresh_tab(stranger)
    tab.send(**({kind: True}))
    assert "git_info_changed" not in [m.WhichOneof("type") for m in tab.receive(2)]
    assert f"dropped a {kind} message from a tab that has not logged in" in stranger["log"].read_text()
    assert "Password" in tab.texts(tab.run())  # still connected, still at the login page
    assert stranger["server"].poll() is None
    tab.close()


def test_heartbeat_and_stop_keep_working_before_login(stranger):
    tab = _fresh_tab(stranger)
    tab.send(app_heartbeat=True)
    assert "heartbeat_ack" in [m.WhichOneof("type") for m in tab.receive(2)]
    tab.send(stop_script=True)
    assert "Password" in tab.texts(tab.run())
    tab.close()


def test_no_page_runs_before_login_whatever_the_tab_asks(stranger):
    """Pages asked for by URL (page name) and by message (page hash), forged widget values for their widgets
    (buttons, a component's value as streamlit-webrtc sends its offer), a query string: the login page only,
    and nothing written."""
    from streamlit.proto.ClientState_pb2 import ClientState
    from streamlit.util import calc_hash

    tab = _fresh_tab(stranger)
    for page in ("upload", "session", "manage", "live", "review"):
        for ask in ({"page_name": page}, {"page_script_hash": calc_hash(page)}, {"query_string": f"page={page}"}):
            texts = tab.texts(tab.run(**ask))
            assert "Password" in texts and not any(t in texts for t in ("Upload", "Delete", "Live", "Review"))
    forged = ClientState(page_name="live")
    for i, widget_id in enumerate(["$$ID-delete-session", "$$ID-webrtc-live", "$$ID-upload", "$$ID-start"]):
        w = forged.widget_states.widgets.add()
        w.id = widget_id
        if i == 1:
            w.json_value = '{"sdpOffer": {"type": "offer", "sdp": "v=0"}, "playing": true}'
        else:
            w.trigger_value = True
    tab.send(rerun_script=forged)
    texts = tab.texts(tab.receive(3))
    assert "Password" in texts and "Live" not in texts
    tab.close()
    import sqlite3

    db = sqlite3.connect(stranger["tmp"] / "fer.db")
    tables = {t for (t,) in db.execute("select name from sqlite_master where type='table'")}
    assert all(db.execute(f"select count(*) from {t}").fetchone()[0] == 0 for t in tables - {"alembic_version"})
    home = stranger["tmp"] / "home"
    assert not [p for p in home.rglob("*") if p.is_file()] if home.exists() else True


def test_the_agent_api_is_off(stranger):
    request = urllib.request.Request(
        f"http://127.0.0.1:{stranger['port']}/_stcore/agent/interact", data=b"{}", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code in (403, 404, 405, 501, 503)

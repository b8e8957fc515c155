"""Login: a salted slow hash, throttled guesses that no new connection, forged address or restart resets, a
login cookie that a tab's session id cannot replace, logout, idle expiry, and nothing reachable before login
(a real dashboard server, raw HTTP and WebSocket clients as an attacker would use, a real browser, real 150 MB
uploads)."""

from __future__ import annotations

import http.client
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from fer_core.trust import login

from conftest import REPO

PASSWORD = "correct horse battery"


@pytest.fixture
def engine(tmp_path):
    from fer_core.storage.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'throttle.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


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


def test_a_login_ends_when_logged_out_or_idle(engine):
    now = [1e9]
    logins = login.Logins(engine, idle_s=60, clock=lambda: now[0])
    token, login_id = logins.start("shared password", "10.0.0.1")
    assert logins.of_token(token) == login_id and logins.of_token("forged") is None and logins.of_token(None) is None
    now[0] += 50
    assert logins.status(login_id) == "active"  # and used now: idle counts from here
    now[0] += 50
    assert logins.status(login_id) == "active"
    now[0] += 61
    assert logins.status(login_id) == "idle" and logins.of_token(token) is None
    token, login_id = logins.start("shared password", "10.0.0.1")
    logins.end(login_id)
    assert logins.status(login_id) == "ended" and logins.of_token(token) is None
    from sqlalchemy import text

    with engine.connect() as db:  # the database holds the token's hash, never the token
        assert token not in str(db.execute(text("select * from login_session")).all())


def test_the_old_unsalted_form_still_works(monkeypatch, tmp_path):
    import hashlib

    import gate

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fer.db'}")
    monkeypatch.delenv("FER_DASHBOARD_PASSWORD_HASH", raising=False)
    monkeypatch.setenv("FER_DASHBOARD_PASSWORD_SHA256", hashlib.sha256(b"s3cret").hexdigest())
    gate._engine.cache_clear()
    try:
        assert gate._try_password("wrong", "10.0.0.1") == "wrong"
        token = gate._try_password("s3cret", "10.0.0.1")
        assert gate.logins().of_token(token)
    finally:
        gate._engine.cache_clear()


# ----------------------------------------------------------------------------- a real server, raw clients
WRONG = "Wrong password."
TOO_MANY = "Too many wrong passwords"


def _login_env(tmp_path, **extra) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fer.db'}",
        "FER_HOME": str(tmp_path / "home"),
        "FER_DASHBOARD_PASSWORD_HASH": login.hash_password(PASSWORD),
        "FER_DASHBOARD_PASSWORD_SHA256": "",
        "FER_TRUSTED_PROXIES": "",
        **extra,
    }


def _post_password(port: int, password: str, headers: dict | None = None) -> tuple[int, str, str | None]:
    """POST the login form as a browser does: (status, page text, the login cookie if one was set)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = urllib.parse.urlencode({"password": password})
    conn.request("POST", "/_fer/login", body, {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    response = conn.getresponse()
    page = response.read().decode()
    cookie = None
    for name, value in response.getheaders():
        if name.lower() == "set-cookie" and value.startswith("fer_login="):
            cookie = value.split(";")[0]
            assert "HttpOnly" in value and "SameSite=strict" in value
    conn.close()
    return response.status, page, cookie


def _get(port: int, path: str, headers: dict | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers=headers or {})
    status = conn.getresponse().status
    conn.close()
    return status


def _pages_shown(texts: list[str]) -> bool:
    """Whether a run drew the logged-in pages (their sidebar's "Log out" link), not the logged-out note."""
    return any("/_fer/logout" in t for t in texts) and "You are logged out." not in texts


def _answer(page: str) -> str:
    return WRONG if WRONG in page else TOO_MANY if TOO_MANY in page else ""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One dashboard with a password for the tests below (each starts costs seconds)."""
    from served import RawTab, dashboard

    tmp = tmp_path_factory.mktemp("login")
    log = tmp / "server.log"
    with dashboard(_login_env(tmp, FER_LOGIN_FIRST_WAIT_S="600"), log=log) as (port, server):
        yield {"port": port, "server": server, "log": log, "tmp": tmp, "RawTab": RawTab}


def _logged_in_tab(served):
    status, _, cookie = _post_password(served["port"], PASSWORD)
    assert status == 303 and cookie
    tab = served["RawTab"](served["port"], headers={"Cookie": cookie})
    assert _pages_shown(tab.texts(tab.run()))
    return tab, cookie


def test_a_forged_forwarded_for_does_not_escape_the_throttle(tmp_path):
    """Twelve guesses, each claiming another address in X-Forwarded-For: they all count for the one address
    they come from (no proxy is trusted by default). With the proxy trusted, each client it names counts apart."""
    from served import dashboard

    with dashboard(_login_env(tmp_path, FER_LOGIN_FIRST_WAIT_S="600")) as (port, _):
        answers = [
            _answer(_post_password(port, f"guess {i}", {"X-Forwarded-For": f"203.0.113.{i}"})[1]) for i in range(12)
        ]
        assert answers == [WRONG] * 3 + [TOO_MANY] * 9
        # a forged 127.0.0.1 is no way to lock the local users out either: it is the same address anyway
        status, page, _ = _post_password(port, PASSWORD, {"X-Forwarded-For": "198.51.100.7"})
        assert _answer(page) == TOO_MANY and status == 429
    (tmp_path / "proxy").mkdir()
    with dashboard(_login_env(tmp_path / "proxy", FER_TRUSTED_PROXIES="127.0.0.1")) as (port, _):
        one = [_answer(_post_password(port, "guess", {"X-Forwarded-For": "203.0.113.1"})[1]) for _ in range(4)]
        assert one == [WRONG] * 3 + [TOO_MANY]
        status, _, cookie = _post_password(port, PASSWORD, {"X-Forwarded-For": "203.0.113.2"})
        assert status == 303 and cookie  # another client behind the same proxy is not held up


def test_wrong_guesses_hold_through_new_connections_and_a_restart(tmp_path):
    from served import dashboard

    env = _login_env(tmp_path, FER_LOGIN_FIRST_WAIT_S="600")  # longer than the test: no race with the clock
    with dashboard(env) as (port, _):
        assert [_answer(_post_password(port, f"guess {i}")[1]) for i in range(3)] == [WRONG] * 3
        status, page, cookie = _post_password(port, PASSWORD)  # even the right password waits
        assert _answer(page) == TOO_MANY and not cookie
    with dashboard(env) as (port, _):  # a restarted dashboard (or a second process on the same database)
        assert _answer(_post_password(port, PASSWORD)[1]) == TOO_MANY


def test_a_session_id_does_not_open_a_login(served):
    """The id of a logged-in tab's session (it appears in upload URLs) is worth nothing without the cookie:
    the connection is refused, with or without a forged login header; a different login's cookie gets a
    session of its own, not that tab's; and once the tab has closed, still nothing."""
    from websockets.exceptions import InvalidStatus, WebSocketException

    tab, cookie = _logged_in_tab(served)
    victim = tab.session_id
    for headers in (None, {"X-Fer-Login": "anything"}, {"Cookie": "fer_login=forged"}):
        with pytest.raises((InvalidStatus, WebSocketException, OSError)):
            thief = served["RawTab"](served["port"], headers=headers, resume=victim)
            thief.run(timeout=10)
    _, _, other_cookie = _post_password(served["port"], PASSWORD)
    other = served["RawTab"](served["port"], headers={"Cookie": other_cookie}, resume=victim)
    other.run()
    assert other.session_id and other.session_id != victim
    other.close()
    tab.close()
    time.sleep(1)
    with pytest.raises((InvalidStatus, WebSocketException, OSError)):
        served["RawTab"](served["port"], resume=victim).run(timeout=10)
    again = served["RawTab"](served["port"], headers={"Cookie": cookie}, resume=victim)  # its own holder: yes
    again.run()
    assert again.session_id == victim
    again.close()


def test_nothing_but_the_form_is_reachable_before_login(served):
    port = served["port"]
    assert _get(port, "/_stcore/health") == 200 and _get(port, "/_fer/login") == 200
    assert _get(port, "/") == 303 and _get(port, "/upload") == 303  # to the login form
    for path in ("/_stcore/metrics", "/media/0123456789abcdef.png", "/_stcore/host-config", "/static/index.html"):
        assert _get(port, path) in (403, 303), path
    assert _get(port, "/_stcore/metrics", {"Cookie": "fer_login=forged"}) == 403
    _, cookie = _logged_in_tab(served)
    assert _get(port, "/_stcore/metrics", {"Cookie": cookie}) != 403


def test_after_logout_the_tab_gets_the_login_link_and_its_requests_are_dropped(served):
    from streamlit.proto.Common_pb2 import FileURLsRequest

    tab, cookie = _logged_in_tab(served)
    assert _get(served["port"], "/_fer/logout", {"Cookie": cookie}) == 303
    time.sleep(2.5)  # the gate looks the login up again at most every 2 s
    texts = tab.texts(tab.run())
    assert "You are logged out." in texts and not _pages_shown(texts)
    tab.send(file_urls_request=FileURLsRequest(request_id="r1", file_names=["big.mp4"], session_id=tab.session_id))
    assert "file_urls_response" not in [m.WhichOneof("type") for m in tab.receive(3)]
    assert "dropped a file_urls_request message of a login that has ended" in served["log"].read_text()
    tab.close()
    assert _get(served["port"], "/", {"Cookie": cookie}) == 303  # the cookie opens nothing any more


def test_an_idle_login_ends(tmp_path):
    from served import RawTab, dashboard

    with dashboard(_login_env(tmp_path, FER_DASHBOARD_IDLE_MINUTES="0.05")) as (port, _):  # 3 s
        _, _, cookie = _post_password(port, PASSWORD)
        tab = RawTab(port, headers={"Cookie": cookie})
        assert _pages_shown(tab.texts(tab.run()))
        time.sleep(4)
        assert any("logged out after 0.05 minutes without activity" in t for t in tab.texts(tab.run()))
        tab.close()


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
            field = page.locator('input[type="password"]')  # the login form: no Streamlit session yet
            assert not sessions
            time.sleep(3)
            before = _rss_mb(server.pid)
            statuses = [_put(port, f"{i:032x}", 150) for i in range(10)]
            after = _rss_mb(server.pid)
            assert statuses == [403] * 10
            assert after - before < 100, (before, after)  # 1.5 GB sent; none of it kept or even read
            field.fill(PASSWORD)
            field.press("Enter")
            page.get_by_text("Log out").wait_for(timeout=120_000)
            assert sessions, "no session started"
            assert _put(port, sessions[-1], 1) == 403  # the logged-in tab's id, without its cookie
            cookie = {c["name"]: c["value"] for c in page.context.cookies()}
            xsrf = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookie.items())}
            if "_streamlit_xsrf" in cookie:
                xsrf["X-Xsrftoken"] = cookie["_streamlit_xsrf"]
            assert _put(port, sessions[-1], 1, xsrf) != 403  # the same tab, logged in, may upload
            browser.close()


def test_the_agent_api_is_off(served):
    request = urllib.request.Request(
        f"http://127.0.0.1:{served['port']}/_stcore/agent/interact", data=b"{}", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code in (403, 404, 405, 501, 503)


def _post_account(port: int, name: str, password: str) -> tuple[int, str, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = urllib.parse.urlencode({"name": name, "password": password})
    conn.request("POST", "/_fer/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    page = response.read().decode()
    cookie = next(
        (v.split(";")[0] for k, v in response.getheaders() if k.lower() == "set-cookie" and v.startswith("fer_login=")),
        None,
    )
    conn.close()
    return response.status, page, cookie


def test_personal_accounts_log_in_with_their_role_and_are_audited(tmp_path):
    """With accounts and no shared password, the login asks for a name; a viewer's login acts as a viewer
    (fer_core's door refuses it the rest: tests/test_accounts.py); logins and failures go to the audit trail."""
    from fer_core.storage.db import make_engine, upgrade
    from fer_core.trust import accounts, audit

    from served import RawTab, dashboard

    env = _login_env(tmp_path, FER_DASHBOARD_PASSWORD_HASH="")
    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    accounts.add(engine, "vic", "viewer", "viewer's password")
    accounts.add(engine, "ada", "admin", "admin's password")
    with dashboard(env) as (port, _):
        assert 'name="name"' in _page_text(port)
        assert _post_account(port, "vic", "not it")[0] == 401
        assert _post_password(port, "no shared password is set")[0] == 401
        status, _, cookie = _post_account(port, "vic", "viewer's password")
        assert status == 303 and cookie
        tab = RawTab(port, headers={"Cookie": cookie})
        texts = tab.texts(tab.run())
        assert _pages_shown(texts) and "Logged in as vic (viewer)" in texts
        assert not any("Audit" == t for t in texts)
        tab.close()
        status, _, cookie = _post_account(port, "ada", "admin's password")
        tab = RawTab(port, headers={"Cookie": cookie})
        assert "Logged in as ada (admin)" in tab.texts(tab.run())
        tab.close()
    trail = [(e["who"], e["action"]) for e in audit.events(engine)]
    assert trail == [("vic", "login failed"), ("shared password", "login failed"), ("vic", "login"), ("ada", "login")]


def _page_text(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/_fer/login")
    text = conn.getresponse().read().decode()
    conn.close()
    return text


def test_a_viewers_forged_button_press_changes_nothing(tmp_path):
    """A viewer's tab sends the Manage page's disabled "Delete session" button as pressed, which no browser of
    theirs would, and submits its edit form: nothing is deleted or renamed, and fer_core's door says why in one
    line."""
    from test_storage import _add_media, _fake_faces

    from fer_core.storage.db import make_engine, session_factory, upgrade
    from fer_core.storage.orm import FeedbackSession
    from fer_core.trust import accounts, audit

    from served import RawTab, dashboard

    env = _login_env(tmp_path, FER_DASHBOARD_PASSWORD_HASH="")
    engine = make_engine(env["DATABASE_URL"])
    upgrade(engine)
    with session_factory(engine)() as db:
        session_id, _ = _add_media(db, "Kept", _fake_faces(3, label=3))
    accounts.add(engine, "vic", "viewer", "viewer's password")
    with dashboard(env) as (port, _):
        _, _, cookie = _post_account(port, "vic", "viewer's password")
        tab = RawTab(port, headers={"Cookie": cookie})
        tab.run()
        assert "Manage" in tab.pages and "Users" not in tab.pages and "Upload" not in tab.pages
        texts = tab.texts(tab.run(page_script_hash=tab.pages["Manage"]))
        assert "Only an admin account may delete sessions." in texts and "Delete session" in tab.widgets
        manage = tab.pages["Manage"]
        tab.run({"Type the session's name to confirm": "Kept", "Delete session": True}, page_script_hash=manage)
        texts = tab.texts(tab.run({"Name": "Renamed by a viewer", "Save": True}, page_script_hash=manage))
        assert any("vic is a viewer and may not edit sessions" in t for t in texts), texts[-8:]
        tab.close()
    with session_factory(engine)() as db:
        assert db.get(FeedbackSession, session_id).name == "Kept"  # neither deleted nor renamed
    assert not {"delete session", "edit session"} & {e["action"] for e in audit.events(engine)}

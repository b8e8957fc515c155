"""The login, when a password is set: nothing but the password form is reachable without it.

Streamlit itself has no login, so ``dashboard/Home.py`` puts :class:`LoginGate` in front of it and serves the
login form at ``/_fer/login`` (:data:`ROUTES`). A login is a random token in an HttpOnly, SameSite=Strict
cookie (``fer_core.trust.login.Logins`` keeps its SHA-256): the gate checks it on every HTTP request and when a tab's
WebSocket connects, and hands Streamlit the login's public id in the ``X-Fer-Login`` header (any such header a
client sends is removed first). ``server.trustedUserHeaders`` makes that id the session's identity, so
Streamlit resumes a session only for a connection with the same login: a tab's session id (which appears in
upload URLs) is not enough to take over its login.

Without a valid cookie:
- the WebSocket is refused, so no Streamlit session exists and no message of a stranger reaches Streamlit;
- a page address is sent to the login form; uploads, ``/media`` (face crops, videos, downloads), the metrics
  and everything else under ``/_stcore`` but the health check are answered 403.
A tab whose login ends (logged out in another tab, idle) has its messages dropped from then on, but the
script runs that show the login link.

Wrong passwords are throttled per client address and in total (``fer_core.trust.login.Throttle``, in the database).
The address is the one the connection comes from; a reverse proxy's ``X-Forwarded-For`` is read only when the
proxy is listed in ``FER_TRUSTED_PROXIES``.
"""

from __future__ import annotations

import functools
import html
import logging
import math
import re
import time
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from fer_core import settings
from fer_core.trust import login

log = logging.getLogger("dashboard")

COOKIE = "fer_login"
HEADER = b"x-fer-login"
LOGIN_PATH = "/_fer/login"
LOGOUT_PATH = "/_fer/logout"
# What needs no login: the health check (load balancers, the tests) and the login form itself.
OPEN_PATHS = frozenset({"/_stcore/health", "/healthz", LOGIN_PATH, LOGOUT_PATH, "/favicon.png"})
_STREAM = re.compile(r"/_stcore/stream/?$")
# What a tab may still send after its login ended: running the script (which then shows the login link).
AFTER_LOGOUT = frozenset({"rerun_script", "stop_script", "app_heartbeat"})
RECHECK_S = 2.0  # a connection's login is looked up again at most this often


def password_secrets() -> tuple[str | None, str | None]:
    """(scrypt hash, legacy SHA-256) from the environment or .streamlit/secrets.toml; (None, None): no login."""
    s = settings.current()
    scrypt_hash = s.dashboard_password_hash or _secret("password_hash")
    sha256_hex = None if scrypt_hash else (s.dashboard_password_sha256 or _secret("password_sha256"))
    return scrypt_hash, sha256_hex


def _secret(name: str) -> str | None:
    try:
        import streamlit as st

        return str(st.secrets.get(name) or "") or None
    except Exception:  # no secrets file
        return None


def login_required() -> bool:
    """A password is set, or personal accounts exist (``python -m fer_core users add``)."""
    return any(password_secrets()) or accounts_exist()


_accounts_seen: list = [0.0, False]  # (when asked, the answer): asked on every request, so at most once a second


def accounts_exist() -> bool:
    from fer_core.trust import accounts

    now = time.monotonic()
    if _accounts_seen[1] or now - _accounts_seen[0] < 1.0:
        return _accounts_seen[1]  # once there are accounts the login stays on for this process
    _accounts_seen[:] = [now, accounts.any_accounts(_engine())]
    return _accounts_seen[1]


@functools.cache
def _engine():
    from fer_core.storage.db import make_engine, upgrade

    engine = make_engine()
    upgrade(engine)
    return engine


def logins() -> login.Logins:
    return login.Logins(_engine(), idle_s=settings.current().dashboard_idle_minutes * 60)


def _cookie(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is no login
                return None
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


def _client(scope) -> str:
    """The address to count this request's login attempts under (see ``login.client_address``).

    uvicorn, under Streamlit, already replaced the address of a local connection by the last one its
    X-Forwarded-For names (it trusts local proxies unless told otherwise): where that happened, the
    connection came from this machine, and the header counts only if FER_TRUSTED_PROXIES says so.
    """
    host = (scope.get("client") or ("local",))[0] or "local"
    forwarded = ", ".join(v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for")
    hops = [h.strip() for h in forwarded.split(",")]
    peer = "127.0.0.1" if host in hops else host
    return login.client_address(peer, forwarded, settings.current().trusted_proxies)[:100]


class LoginGate:
    """ASGI middleware: without a valid login cookie, only the login form and the health check answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket") or not login_required():
            await self.app(scope, receive, send)
            return
        from starlette.concurrency import run_in_threadpool

        headers = [(k, v) for k, v in scope.get("headers", []) if k != HEADER]  # never the client's own
        login_id = await run_in_threadpool(logins().of_token, _cookie(scope))
        if login_id:
            headers.append((HEADER, login_id.encode()))
        scope = {**scope, "headers": headers}
        path = scope.get("path", "")
        if scope["type"] == "websocket":
            if not login_id:
                await send({"type": "websocket.close", "code": 1008})  # refused before Streamlit sees it
                return
            if _STREAM.search(path):
                await self.app(scope, _watched(receive, login_id, _client(scope)), send)
                return
        elif not login_id and path not in OPEN_PATHS:
            from starlette.responses import PlainTextResponse, RedirectResponse

            if scope["method"] == "GET" and not path.startswith(("/_stcore/", "/media/", "/static/", "/component")):
                response = RedirectResponse(LOGIN_PATH, status_code=303)
            else:
                response = PlainTextResponse("Log in first.", status_code=403)
            await response(scope, receive, send)  # the body of an upload is never read
            return
        await self.app(scope, receive, send)


def _watched(receive, login_id: str, client: str):
    """``receive`` that drops a tab's messages once its login has ended, but those that show the login link."""
    from starlette.concurrency import run_in_threadpool

    checked = {"at": 0.0, "active": True}

    async def guarded_receive():
        while True:
            message = await receive()
            frame = message.get("bytes") if message.get("type") == "websocket.receive" else None
            if not frame:
                return message
            now = time.monotonic()
            if now - checked["at"] > RECHECK_S:
                checked.update(at=now, active=await run_in_threadpool(logins().active, login_id))
            if checked["active"] or _kind_of(frame) in AFTER_LOGOUT:
                return message
            log.warning("dropped a %s message of a login that has ended (%s)", _kind_of(frame), client)

    return guarded_receive


def _kind_of(frame: bytes) -> str | None:
    """The type of a tab's message; None when it is not a BackMsg (Streamlit then closes the connection)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    try:
        msg.ParseFromString(frame)
    except Exception:
        return None
    return msg.WhichOneof("type") or "empty"


# ----------------------------------------------------------------------------- the login form
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Feedback emotions: log in</title>
<style>
body {{ font-family: "Source Sans Pro", system-ui, sans-serif; background: #fff; color: #31333f; margin: 0; }}
main {{ max-width: 22rem; margin: 12vh auto; padding: 0 1rem; }}
h1 {{ font-size: 1.8rem; margin-bottom: 1.5rem; }}
label {{ display: block; font-size: .9rem; margin-bottom: .3rem; }}
input {{ width: 100%; box-sizing: border-box; font-size: 1rem; padding: .5rem; border: 1px solid #ccc;
        border-radius: .4rem; background: #f0f2f6; }}
button {{ margin-top: 1rem; font-size: 1rem; padding: .45rem 1.2rem; border-radius: .4rem; border: 1px solid #ccc;
         background: #fff; cursor: pointer; }}
p.note {{ padding: .7rem 1rem; border-radius: .4rem; background: {colour}; }}
</style></head>
<body><main><h1>Feedback emotions</h1>{note}
<form method="post" action="{action}">
{name_field}<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" autofocus required>
<button type="submit">Log in</button>
</form></main></body></html>
"""
NOTES = {
    "out": ("You are logged out.", "#e8f0fe"),
    "idle": ("You were logged out after {idle:g} minutes without activity.", "#e8f0fe"),
    "wrong": ("Wrong password.", "#fde8e8"),
    "misconfigured": ("Login is misconfigured; whoever runs the dashboard finds why in its log.", "#fde8e8"),
}


def _page(note: str | None = None, status: int = 200, **words):
    from starlette.responses import HTMLResponse

    text, colour = NOTES.get(note, (note, "#fde8e8")) if note else ("", "")
    text = text.format(idle=settings.current().dashboard_idle_minutes, **words) if text else ""
    name_field = (
        '<label for="name">Name (your account; empty for the shared password)</label>\n'
        '<input id="name" name="name" autocomplete="username" style="margin-bottom: .8rem">\n'
        if accounts_exist()
        else ""
    )
    body = PAGE.format(
        note=f'<p class="note" role="alert">{html.escape(text)}</p>' if text else "",
        colour=colour,
        action=LOGIN_PATH,
        name_field=name_field,
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


async def login_page(request):
    """GET: the form. POST: check the password (throttled), start a login, set the cookie, go to the pages."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import RedirectResponse

    if not login_required():
        return RedirectResponse("/", status_code=303)
    if request.method == "GET":
        note = request.query_params.get("note")
        return _page(note if note in ("out", "idle") else None)
    form = parse_qs((await request.body())[:4096].decode("utf-8", "replace"))
    password = (form.get("password") or [""])[0]
    name = (form.get("name") or [""])[0].strip()[:100]
    client = _client(request.scope)
    outcome = await run_in_threadpool(_try_password, password, client, name)
    if isinstance(outcome, float):
        return _page(f"Too many wrong passwords: try again in {math.ceil(outcome)} s.", status=429)
    if outcome in NOTES:
        return _page(outcome, status=401 if outcome == "wrong" else 500)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        outcome,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


SHARED = "shared password"  # who a login with the shared password is


def _try_password(password: str, client: str, name: str = "") -> str | float:
    """The new login's token; or the seconds to wait, or "wrong" / "misconfigured". With ``name``, the
    account's own password; without, the shared one. Wrong tries count per address and per account."""
    from fer_core.trust import access, accounts, audit

    scrypt_hash, sha256_hex = password_secrets()
    throttle = login.Throttle(_engine(), base_s=settings.current().login_first_wait_s)
    keys = [client] + ([f"account:{name}"] if name else [])
    wait = max(throttle.wait_s(k) for k in keys)
    if wait > 0:
        return wait
    for key in keys:
        throttle.failed(key)  # counted before it is checked, so that guesses sent side by side all count
    try:
        role = accounts.verify(_engine(), name, password) if name else None
        ok = role is not None or (not name and login.check(password, scrypt_hash=scrypt_hash, sha256_hex=sha256_hex))
    except ValueError as exc:  # a hash that is not one: the one who runs the dashboard must fix it
        log.error("%s", exc)
        return "misconfigured"
    who = access.Actor(name or SHARED, role or (access.ADMIN if ok else "none"), client)
    if not ok:
        log.warning("wrong password from %s", client)
        audit.record(_engine(), "login failed", actor=who)
        return "wrong"
    for key in keys:
        throttle.succeeded(key)
    token, _ = logins().start(who.name, client)
    audit.record(_engine(), "login", actor=who)
    return token


async def logout_page(request):
    """End this browser's login and forget its cookie."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import RedirectResponse

    store = logins()
    login_id = await run_in_threadpool(store.of_token, request.cookies.get(COOKIE))
    if login_id:
        await run_in_threadpool(store.end, login_id)
    response = RedirectResponse(f"{LOGIN_PATH}?note=out", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def routes():
    from starlette.routing import Route

    return [
        Route(LOGIN_PATH, login_page, methods=["GET", "POST"]),
        Route(LOGOUT_PATH, logout_page, methods=["GET"]),
    ]

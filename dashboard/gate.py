"""What a browser tab that has not logged in may reach, when a password is set: the login page, and nothing else.

Streamlit itself has no login, so two ASGI middlewares that ``dashboard/Home.py`` puts in front of it stop a
stranger's traffic before Streamlit sees it:

- ``UploadGuard``: Streamlit's upload endpoint (``PUT /_stcore/upload_file/SESSION/FILE``) checks only that the
  tab's session exists; an upload from a tab that has not logged in is answered 403 before a byte of its body
  is read.
- ``MessageGuard``: every message a tab sends over the WebSocket (a Streamlit ``BackMsg``) is dropped, before
  login, unless it is one the login page needs: a run of the script (which shows only the login page until
  the tab logs in), stopping that run, a heartbeat. So a stranger cannot clear the caches, ask for upload
  URLs, deferred downloads or dataframe chunks, change run-on-save, read the git information or call the
  debug and agent-skill messages.

The login page (``auth.py``) adds tabs here when they log in and removes them when they log out.
"""

from __future__ import annotations

import logging
import re
import threading

from fer_core import settings

log = logging.getLogger("dashboard")

_allowed: set[str] = set()
_lock = threading.Lock()
_UPLOAD = re.compile(r"/_stcore/upload_file/([^/]+)(/|$)")
_STREAM = re.compile(r"/_stcore/stream/?$")

# What a tab may send before it has logged in: run the script (the login page), stop that run, stay connected.
BEFORE_LOGIN = frozenset({"rerun_script", "stop_script", "app_heartbeat"})


def login_required() -> bool:
    s = settings.current()
    if s.dashboard_password_hash or s.dashboard_password_sha256:
        return True
    try:
        import streamlit as st

        return bool(st.secrets.get("password_hash") or st.secrets.get("password_sha256"))
    except Exception:  # no secrets file
        return False


def allow(session_id: str | None) -> None:
    if session_id:
        with _lock:
            _allowed.add(session_id)


def forget(session_id: str | None) -> None:
    with _lock:
        _allowed.discard(session_id)


def permitted(session_id: str | None) -> bool:
    with _lock:
        return session_id in _allowed or not login_required()


class UploadGuard:
    """ASGI middleware: refuse uploads from tabs that have not logged in (when login is on)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] in ("PUT", "POST"):
            found = _UPLOAD.search(scope["path"])
            if found and not permitted(found.group(1)):
                from starlette.responses import PlainTextResponse

                await PlainTextResponse("Log in first.", status_code=403)(scope, receive, send)
                return  # the body is never read
        await self.app(scope, receive, send)


def _session_of(frame: bytes) -> str | None:
    """The tab's session id, from the server's ``new_session`` message (None for any other message)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = ForwardMsg()
    try:
        msg.ParseFromString(frame)
    except Exception:  # not ours to judge: Streamlit sent it
        return None
    return msg.new_session.initialize.session_id if msg.HasField("new_session") else None


def _kind_of(frame: bytes) -> str | None:
    """The type of a tab's message; None when it is not a BackMsg (Streamlit then closes the connection)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    try:
        msg.ParseFromString(frame)
    except Exception:
        return None
    return msg.WhichOneof("type") or "empty"


class MessageGuard:
    """ASGI middleware: before login, drop every WebSocket message but those in ``BEFORE_LOGIN``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket" or not _STREAM.search(scope["path"]) or not login_required():
            await self.app(scope, receive, send)
            return
        tab: dict[str, str | None] = {"session": None}  # learnt from the server's first new_session message

        async def watched_send(message):
            if tab["session"] is None and message.get("type") == "websocket.send" and message.get("bytes"):
                tab["session"] = _session_of(message["bytes"])
            await send(message)

        async def guarded_receive():
            while True:
                message = await receive()
                frame = message.get("bytes") if message.get("type") == "websocket.receive" else None
                if not frame or permitted(tab["session"]):
                    return message
                kind = _kind_of(frame)
                if kind is None or kind in BEFORE_LOGIN:
                    return message
                client = (scope.get("client") or ("?",))[0]
                log.warning("dropped a %s message from a tab that has not logged in (%s)", kind, client)

        await self.app(scope, guarded_receive, watched_send)

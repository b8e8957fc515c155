"""Which browser tabs may upload files: with login on, only the tabs that have logged in.

Streamlit's upload endpoint (``PUT /_stcore/upload_file/SESSION/FILE``) checks only that the tab's session
exists, so before login anyone could push uploads into the dashboard's memory. ``UploadGuard``, an ASGI
middleware that ``dashboard/Home.py`` puts in front of Streamlit, answers 403 to an upload from a tab that has
not logged in, before reading a byte of its body. The login page (``auth.py``) adds and removes tabs here.
"""

from __future__ import annotations

import re
import threading

from fer_core import settings

_allowed: set[str] = set()
_lock = threading.Lock()
_UPLOAD = re.compile(r"/_stcore/upload_file/([^/]+)(/|$)")


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


def permitted(session_id: str) -> bool:
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

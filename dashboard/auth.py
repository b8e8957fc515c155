"""Optional login: off unless a password is configured.

Set FER_DASHBOARD_PASSWORD_HASH (or `password_hash` in .streamlit/secrets.toml) to what
`python -m fer_core hash-password` prints. The older FER_DASHBOARD_PASSWORD_SHA256 (`password_sha256`) still
works, with a warning. Wrong passwords are throttled per client address and in total (fer_core.login, kept
in the database); a
logged-in tab logs out from the sidebar, or by itself after FER_DASHBOARD_IDLE_MINUTES without use.
"""

from __future__ import annotations

import logging
import math
import time

import streamlit as st
from sqlalchemy import Engine
from streamlit.runtime.scriptrunner import get_script_run_ctx

from fer_core import login, settings

import gate
import state

log = logging.getLogger("dashboard")


def _secret(name: str, variable: str | None) -> str | None:
    if variable:
        return variable
    try:
        return str(st.secrets[name]) or None
    except Exception:  # no secrets file, or no such key
        return None


@st.cache_resource
def _warn_once(message: str) -> None:
    log.warning(message)


def _session_id() -> str | None:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else None


def _log_out(reason: str | None = None) -> None:
    st.session_state.pop(state.AUTHENTICATED, None)
    st.session_state.pop(state.LAST_SEEN, None)
    gate.forget(_session_id())
    if reason:
        st.session_state[state.LOGOUT_REASON] = reason


def require_login(engine: Engine) -> bool:
    """True when the page may be shown: no password is set, or this tab is logged in (and not idle). Wrong
    passwords are counted in ``engine``'s database, where no client can clear them."""
    s = settings.current()
    scrypt_hash = _secret("password_hash", s.dashboard_password_hash)
    sha256_hex = None if scrypt_hash else _secret("password_sha256", s.dashboard_password_sha256)
    if not scrypt_hash and not sha256_hex:
        return True
    if sha256_hex:
        _warn_once(
            "FER_DASHBOARD_PASSWORD_SHA256 is an unsalted hash, fast to guess if it leaks: set "
            "FER_DASHBOARD_PASSWORD_HASH from `python -m fer_core hash-password` instead"
        )
    now = time.time()
    if st.session_state.get(state.AUTHENTICATED):
        idle_s = now - st.session_state.get(state.LAST_SEEN, now)
        if idle_s <= s.dashboard_idle_minutes * 60:
            st.session_state[state.LAST_SEEN] = now
            gate.allow(_session_id())
            if st.sidebar.button("Log out", icon=":material/logout:"):
                _log_out("You are logged out.")
                st.rerun()
            return True
        _log_out(f"You were logged out after {s.dashboard_idle_minutes:g} minutes without activity.")

    st.title("Feedback emotions")
    if reason := st.session_state.pop(state.LOGOUT_REASON, None):
        st.info(reason)
    password = st.text_input("Password", type="password")
    if not password:
        return False
    address = st.context.ip_address  # None on localhost
    client = address if isinstance(address, str) and address else "local"
    throttle = login.Throttle(engine, base_s=s.login_first_wait_s)
    wait = throttle.wait_s(client)
    if wait > 0:
        st.error(f"Too many wrong passwords: try again in {math.ceil(wait)} s.")
        return False
    throttle.failed(client)  # counted before it is checked, so that guesses sent side by side all count
    try:
        ok = login.check(password, scrypt_hash=scrypt_hash, sha256_hex=sha256_hex)
    except ValueError as exc:  # a hash that is not one: the one who runs the dashboard must fix it
        log.error("%s", exc)
        st.error("Login is misconfigured; whoever runs the dashboard finds why in its log.")
        return False
    if not ok:
        st.error("Wrong password.")
        return False
    throttle.succeeded(client)
    st.session_state[state.AUTHENTICATED] = True
    st.session_state[state.LAST_SEEN] = now
    gate.allow(_session_id())
    st.rerun()
    return False

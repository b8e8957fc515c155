"""The pages' side of the login (``gate.py`` does the rest): whose login this tab is, idle expiry, log out.

Set FER_DASHBOARD_PASSWORD_HASH (or `password_hash` in .streamlit/secrets.toml) to what
`python -m fer_core hash-password` prints; the older FER_DASHBOARD_PASSWORD_SHA256 (`password_sha256`) still
works, with a warning. A tab reaches the pages only through the login form at /_fer/login, which sets the
login cookie; here each run checks that this tab's login is still active (not logged out, not idle for
FER_DASHBOARD_IDLE_MINUTES) and offers "Log out".
"""

from __future__ import annotations

import logging

import streamlit as st
from sqlalchemy import Engine

from fer_core import settings
from fer_core.trust import access, accounts, login

import gate

log = logging.getLogger("dashboard")


@st.cache_resource
def _warn_once(message: str) -> None:
    log.warning(message)


def require_login(engine: Engine) -> bool:
    """True when the pages may be shown: no password is set and no account exists, or this tab's login is
    active. Sets the account acting in this run (``fer_core.trust.access``), which fer_core's door checks."""
    scrypt_hash, sha256_hex = gate.password_secrets()
    if not gate.login_required():
        return True
    if sha256_hex:
        _warn_once(
            "FER_DASHBOARD_PASSWORD_SHA256 is an unsalted hash, fast to guess if it leaks: set "
            "FER_DASHBOARD_PASSWORD_HASH from `python -m fer_core hash-password` instead"
        )
    s = settings.current()
    login_id = st.context.headers.get(gate.HEADER.decode())  # set by the gate from the cookie, never by a client
    status = login.Logins(engine, idle_s=s.dashboard_idle_minutes * 60).status(login_id)
    if status == "active":
        who, client = login.Logins(engine, idle_s=0).who(login_id) or (gate.SHARED, "")
        role = access.ADMIN if who == gate.SHARED else accounts.role_of(engine, who)
        if role is None:  # the account was removed meanwhile
            login.Logins(engine, idle_s=0).end(login_id, "account removed")
            st.info("This account no longer exists.")
            return False
        access.act_as(access.Actor(who, role, client))
        st.sidebar.caption(f"Logged in as {who} ({role})")
        st.sidebar.html(f'<a href="{gate.LOGOUT_PATH}" target="_self">Log out</a>')
        if who != gate.SHARED:
            _change_password(engine, who)
        return True
    st.title("Feedback emotions")
    if status == "idle":
        st.info(f"You were logged out after {s.dashboard_idle_minutes:g} minutes without activity.")
    else:
        st.info("You are logged out.")
    st.html(f'<a href="{gate.LOGIN_PATH}" target="_self">Log in again</a>')
    return False


def _change_password(engine: Engine, who: str) -> None:
    """The account's own password, changed after the current one is typed again."""
    from fer_core.trust import audit

    with st.sidebar.popover("Change my password"), st.form("my-password", clear_on_submit=True):
        old = st.text_input("Current password", type="password")
        new = st.text_input("New password", type="password", help=f"At least {accounts.MIN_PASSWORD} characters")
        if st.form_submit_button("Change"):
            if accounts.verify(engine, who, old) is None:
                st.error("The current password is not right.")
                return
            try:
                accounts.set_password(engine, who, new)
            except ValueError as exc:
                st.error(str(exc).capitalize() + ".")
                return
            audit.record(engine, "account password", target=who)
            st.success("Changed.")

"""Optional login: off unless a password hash is configured.

Set FER_DASHBOARD_PASSWORD_SHA256 (or `password_sha256` in .streamlit/secrets.toml)
to the hex SHA-256 of the password, e.g.
    python -c "import hashlib,getpass;print(hashlib.sha256(getpass.getpass().encode()).hexdigest())"
"""

from __future__ import annotations

import hashlib
import hmac

import streamlit as st

from fer_core import settings

import state


def _expected() -> str | None:
    value = settings.current().dashboard_password_sha256
    if value:
        return value.strip().lower()
    try:
        return str(st.secrets["password_sha256"]).strip().lower()
    except Exception:  # no secrets file, or no such key
        return None


def require_login() -> bool:
    expected = _expected()
    if expected is None or st.session_state.get(state.AUTHENTICATED):
        return True
    st.title("Feedback emotions")
    password = st.text_input("Password", type="password")
    if password:
        if hmac.compare_digest(hashlib.sha256(password.encode()).hexdigest(), expected):
            st.session_state[state.AUTHENTICATED] = True
            st.rerun()
        st.error("Wrong password.")
    return False

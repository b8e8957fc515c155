"""Dashboard pages and router: the script that `Home.py` serves (and Streamlit's AppTest runs in the tests).

Declares the pages (dashboard/views/) and the sidebar frame; each page calls
fer_core through dashboard/resources.py and draws.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from fer_core import access
from fer_core.storage.db import DatabaseUnusable

from auth import require_login
from resources import get_engine, warm_up

VIEWS = Path(__file__).parent / "views"


def run() -> None:
    st.set_page_config(page_title="Feedback emotions", page_icon=":material/mood:", layout="wide")
    try:
        engine = get_engine()  # the login's throttle counts wrong passwords in the database
    except DatabaseUnusable as exc:  # every page needs it: say so once, instead of a traceback
        logging.getLogger("dashboard").error("%s", exc)  # the file or server, and what to do: for whoever runs it
        st.title("Feedback emotions")
        st.error(
            "The dashboard cannot use its database: it is damaged, missing or unreachable. Nothing was changed. "
            "Whoever runs the dashboard finds what is wrong, and what to do, in its log."
        )
        return
    if not require_login(engine):
        return
    warm_up()
    page = st.navigation(
        [
            st.Page(VIEWS / "home.py", title="Home", icon=":material/home:", default=True),
            st.Page(VIEWS / "upload.py", title="Upload", icon=":material/upload:"),
            st.Page(VIEWS / "live.py", title="Live", icon=":material/videocam:"),
            st.Page(VIEWS / "jobs.py", title="Jobs", icon=":material/work:"),
            st.Page(VIEWS / "session.py", title="Session", icon=":material/movie:"),
            st.Page(VIEWS / "trends.py", title="Trends", icon=":material/trending_up:"),
            st.Page(VIEWS / "compare.py", title="Compare", icon=":material/compare:"),
            st.Page(VIEWS / "review.py", title="Review", icon=":material/fact_check:"),
            st.Page(VIEWS / "manage.py", title="Manage", icon=":material/settings:"),
            *(
                [
                    st.Page(VIEWS / "users.py", title="Users", icon=":material/group:"),
                    st.Page(VIEWS / "audit.py", title="Audit", icon=":material/policy:"),
                ]
                if access.may("users")
                else []
            ),
        ]
    )
    try:
        page.run()
    except access.NotAllowed as exc:  # fer_core's door refused: said in one line, nothing changed
        st.error(f"Not done: {exc}.")


run()

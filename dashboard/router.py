"""Dashboard pages and router: the script that `Home.py` serves (and Streamlit's AppTest runs in the tests).

Declares the pages (dashboard/views/) and the sidebar frame; each page calls
fer_core through dashboard/resources.py and draws.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from fer_core.storage.db import DatabaseUnusable
from fer_core.trust import access

from auth import require_login
from resources import get_engine, warm_up

VIEWS = Path(__file__).parent / "views"
# A file, not a ":material/...:" icon: Streamlit has the browser fetch those as favicons from fonts.gstatic.com,
# a request to Google from every tab (and a failed one where the dashboard has no internet).
ICON = str(Path(__file__).parent / "assets" / "favicon.png")


def run() -> None:
    st.set_page_config(page_title="Feedback emotions", page_icon=ICON, layout="wide")
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
    pages = [
        ("home.py", "Home", ":material/home:", "read"),
        ("upload.py", "Upload", ":material/upload:", "upload"),
        ("live.py", "Live", ":material/videocam:", "upload"),
        ("jobs.py", "Jobs", ":material/work:", "read"),
        ("session.py", "Session", ":material/movie:", "read"),
        ("trends.py", "Trends", ":material/trending_up:", "read"),
        ("compare.py", "Compare", ":material/compare:", "read"),
        ("review.py", "Review", ":material/fact_check:", "review"),
        ("manage.py", "Manage", ":material/settings:", "read"),
        ("users.py", "Users", ":material/group:", "users"),
        ("audit.py", "Audit", ":material/policy:", "audit"),
    ]
    # a page the account's role cannot use is not offered (fer_core's door refuses its actions anyway)
    page = st.navigation(
        [
            st.Page(VIEWS / file, title=title, icon=icon, default=file == "home.py")
            for file, title, icon, action in pages
            if access.may(action)
        ]
    )
    try:
        page.run()
    except access.NotAllowed as exc:  # fer_core's door refused: said in one line, nothing changed
        st.error(f"Not done: {exc}.")


run()

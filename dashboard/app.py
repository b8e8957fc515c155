"""The dashboard as served: `streamlit run dashboard/app.py`.

Streamlit runs `Home.py` (the pages) behind `UploadGuard`, which refuses uploads from browser tabs that have
not logged in (when a password is set). `streamlit run dashboard/Home.py` shows the same pages without it.
"""

import streamlit as st
from starlette.middleware import Middleware

from uploads import UploadGuard

app = st.App("Home.py", middleware=[Middleware(UploadGuard)])

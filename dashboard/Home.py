"""The dashboard as served: `streamlit run dashboard/Home.py`.

Streamlit runs `router.py` (the pages) behind `UploadGuard`, which refuses uploads from browser tabs that have
not logged in (when a password is set).
"""

import streamlit as st
from starlette.middleware import Middleware

from uploads import UploadGuard

app = st.App("router.py", middleware=[Middleware(UploadGuard)])

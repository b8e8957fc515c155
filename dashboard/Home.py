"""The dashboard as served: `streamlit run dashboard/Home.py`.

Streamlit runs `router.py` (the pages) behind `gate.py`'s guards, which keep a browser tab that has not logged
in (when a password is set) to the login page: no upload, and no WebSocket message but running the login page.
"""

import streamlit as st
from starlette.middleware import Middleware

from gate import MessageGuard, UploadGuard

app = st.App("router.py", middleware=[Middleware(UploadGuard), Middleware(MessageGuard)])

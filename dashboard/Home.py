"""The dashboard as served: `streamlit run dashboard/Home.py`.

Streamlit runs `router.py` (the pages) behind `gate.py`'s login gate, which, when a password is set, keeps
everything but the login form (/_fer/login) from a browser without a valid login cookie; `preload.py` has a
new tab fetch its page's element code early.
"""

import streamlit as st
from starlette.middleware import Middleware

from gate import LoginGate, routes
from preload import Preload

app = st.App("router.py", routes=routes(), middleware=[Middleware(LoginGate), Middleware(Preload)])

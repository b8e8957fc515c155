"""Audit (admins): who did what, when, from where; filtered, and as CSV."""

import json

import pandas as pd
import streamlit as st

from fer_core.exports import to_csv
from fer_core.trust import access, audit

from resources import get_engine
from widgets import long_table

st.title("Audit trail")
access.require("audit")
engine = get_engine()
st.caption(
    "Every login and failed login, upload, analysis, review, adaptation, export, report, deletion, erasure and "
    "account change, from the dashboard and the command line. The trail is only ever added to."
)
events = pd.DataFrame(audit.events(engine, limit=5000))
if events.empty:
    st.info("Nothing recorded yet.")
    st.stop()
c1, c2, c3 = st.columns(3)
who = c1.multiselect("Who", sorted(events["who"].unique()))
action = c2.multiselect("Action", sorted(events["action"].unique()))
session = c3.text_input("Session id", help="Only events about this session")
shown = events
if who:
    shown = shown[shown["who"].isin(who)]
if action:
    shown = shown[shown["action"].isin(action)]
if session.strip().isdigit():
    shown = shown[shown["session"] == int(session)]
shown = shown.iloc[::-1].assign(
    at=lambda d: d["at"].str.replace("T", " ").str.replace("Z", " UTC"),
    detail=lambda d: d["detail"].map(lambda v: "" if v is None else json.dumps(v, ensure_ascii=False)),
    session=lambda d: d["session"].map(lambda v: "" if pd.isna(v) else str(int(v))),
    target=lambda d: d["target"].fillna(""),
)
long_table(shown, hide_index=True)
st.download_button("Download as CSV", to_csv(shown), file_name="audit.csv", mime="text/csv", icon=":material/download:")

"""Manage: rename, tag, re-analyse or delete a session (deletion removes its stored media)."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from fer_core import Analyzer, WeightsError, service
from fer_core.trust import access

import reads
import state
from resources import get_analyzer, get_engine
from widgets import plain, progress_of, session_picker, table

st.title("Manage")
engine = get_engine()
session_id = session_picker()
if session_id is None:
    st.stop()
details = reads.session_details(session_id)
if details is None:
    st.info("That session no longer exists.")
    st.stop()

with st.form("edit"):
    name = st.text_input("Name", value=details["name"])
    participant = st.text_input("Participant", value=details["participant"] or "")
    tags = st.text_input("Tags, comma-separated", value=", ".join(details["tags"]))
    notes = st.text_area("Notes", value=details["notes"] or "")
    consent = st.checkbox("Participants consented", value=details["consent"])
    if st.form_submit_button("Save"):
        try:
            service.update_session(
                session_id,
                engine=engine,
                name=name,
                participant=participant,
                notes=notes,
                consent=consent,
                tags=tags.split(","),
            )
        except ValueError as exc:
            st.error(plain(exc))
        else:
            reads.changed()
            st.success("Saved.")

st.subheader("Analyse again")
st.write(
    "Re-run detection and both models on this session's stored photos and videos with other settings; "
    "each file's results are replaced at once."
)
base = get_analyzer().config
with st.form("rerun"):
    c1, c2, c3 = st.columns(3)
    fps = c1.number_input("Video frames per second", 0.25, 10.0, float(base.fps), 0.25)
    min_face = c2.number_input("Smallest face (pixels)", 16, 400, int(base.min_face_px), 4)
    threshold = c3.slider("Detector threshold", 0.3, 0.95, float(base.det_min_score), 0.05)
    if st.form_submit_button("Re-run analysis"):
        analyzer = Analyzer(replace(base, fps=fps, min_face_px=int(min_face), det_min_score=threshold))
        bar = st.progress(0.0, text="Starting...")
        try:
            result = service.reanalyse_session(
                session_id,
                engine=engine,
                analyzer=analyzer,
                on_progress=progress_of(bar),
            )
        except (WeightsError, service.SessionGone) as exc:
            st.error(plain(exc))
        else:
            reads.changed()
            bar.progress(1.0, text="Done")
            table(
                pd.DataFrame(
                    [
                        {"file": o.file, "status": o.status, "faces": o.faces, "error": o.error or ""}
                        for o in result.files
                    ]
                ),
                hide_index=True,
            )

st.subheader("Delete")
st.write("Deleting removes the session, every result of it and its stored photos and videos. This cannot be undone.")
may_delete = access.may("delete")
if not may_delete:
    st.caption("Only an admin account may delete sessions.")
confirm = st.text_input("Type the session's name to confirm", disabled=not may_delete, key="confirm-delete")
if st.button("Delete session", type="primary", disabled=confirm.strip() != details["name"] or not may_delete):
    service.delete_session(session_id, engine=engine)  # and its files, from FER_MEDIA_STORE
    reads.changed()
    st.session_state.pop(state.SELECTED_SESSION, None)
    st.success("Deleted.")
    st.rerun()

st.subheader("Retention")
rules = service.retention_rules(engine=engine)
if rules:
    table(
        pd.DataFrame(
            [
                {
                    "sessions": f"tagged {r['tag']}" if r["tag"] else "every session",
                    "stored media and face pictures kept for": f"{r['days']} days after upload",
                    "then the readings": "are kept" if r["keep_readings"] else "are deleted too",
                }
                for r in rules
            ]
        ),
        hide_index=True,
    )
else:
    st.caption("No retention period: stored media and face pictures stay until their session is deleted.")
st.caption(
    "Applied when the dashboard starts and by `python -m fer_core retention apply` (run it daily from cron); "
    "each application is recorded in the audit trail."
)
if access.may("retention"):
    with st.form("retention"):
        c1, c2, c3 = st.columns(3)
        days = c1.number_input("Days to keep stored media and face pictures", 1, 3650, 90)
        tag = c2.text_input("Only sessions tagged", placeholder="empty: every session")
        drop = c3.checkbox("Delete the readings too")
        set_it, remove_it = st.columns(2)
        try:
            if set_it.form_submit_button("Set this period", icon=":material/auto_delete:"):
                service.set_retention(engine=engine, days=int(days), tag=tag or None, keep_readings=not drop)
                st.rerun()
            if remove_it.form_submit_button("Remove the period for this tag (or for every session)"):
                service.set_retention(engine=engine, days=None, tag=tag or None)
                st.rerun()
        except ValueError as exc:
            st.error(plain(exc))

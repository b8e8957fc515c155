"""Manage: rename, tag, re-analyse or delete a session (deletion removes its stored media)."""

import pandas as pd
import streamlit as st

from fer_core import Analyzer, WeightsError
from fer_core.service import reanalyse_session
from fer_core.storage.db import session_factory
from fer_core.storage.orm import FeedbackSession, SessionTag
from fer_core.storage.repository import delete_session

from resources import get_analyzer, get_engine
from widgets import SELECTED_SESSION, session_picker

st.title("Manage")
engine = get_engine()
session_id = session_picker()
if session_id is None:
    st.stop()

with session_factory(engine)() as db:
    fs = db.get(FeedbackSession, session_id)
    with st.form("edit"):
        name = st.text_input("Name", value=fs.name)
        participant = st.text_input("Participant", value=fs.participant or "")
        tags = st.text_input("Tags, comma-separated", value=", ".join(sorted(t.tag for t in fs.tags)))
        notes = st.text_area("Notes", value=fs.notes or "")
        consent = st.checkbox("Participants consented", value=fs.consent)
        if st.form_submit_button("Save"):
            if not name.strip():
                st.error("A session needs a name.")
            elif (
                db.query(FeedbackSession)
                .filter(FeedbackSession.name == name.strip(), FeedbackSession.id != fs.id)
                .first()
            ):
                st.error("Another session already has that name.")
            else:
                fs.name, fs.participant, fs.notes, fs.consent = (
                    name.strip(),
                    participant or None,
                    notes or None,
                    consent,
                )
                wanted = {t.strip() for t in tags.split(",") if t.strip()}
                fs.tags = [t for t in fs.tags if t.tag in wanted] + [
                    SessionTag(tag=t) for t in sorted(wanted - {t.tag for t in fs.tags})
                ]
                db.commit()
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
            from dataclasses import replace

            analyzer = Analyzer(replace(base, fps=fps, min_face_px=int(min_face), det_min_score=threshold))
            bar = st.progress(0.0, text="Starting...")
            try:
                result = reanalyse_session(
                    session_id,
                    engine=engine,
                    analyzer=analyzer,
                    on_progress=lambda f, m: bar.progress(min(f, 1.0), text=m),
                )
            except WeightsError as exc:
                st.error(str(exc))
            else:
                bar.progress(1.0, text="Done")
                st.dataframe(
                    pd.DataFrame(
                        [
                            {"file": o.file, "status": o.status, "faces": o.faces, "error": o.error or ""}
                            for o in result.files
                        ]
                    ),
                    hide_index=True,
                )

    st.subheader("Delete")
    st.write(
        "Deleting removes the session, every result of it and its stored photos and videos. This cannot be undone."
    )
    confirm = st.text_input("Type the session's name to confirm")
    if st.button("Delete session", type="primary", disabled=confirm.strip() != fs.name):
        delete_session(db, session_id=session_id)  # and its files, from FER_MEDIA_STORE
        st.session_state.pop(SELECTED_SESSION, None)
        st.success("Deleted.")
        st.rerun()

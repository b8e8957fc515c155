"""Manage: rename, tag or delete a session (deletion removes its stored media)."""
import streamlit as st
from resources import get_engine
from widgets import SELECTED_SESSION, session_picker

from fer_core.db import data_home, session_factory
from fer_core.orm import FeedbackSession, SessionTag
from fer_core.repository import delete_session

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
            elif db.query(FeedbackSession).filter(FeedbackSession.name == name.strip(),
                                                  FeedbackSession.id != fs.id).first():
                st.error("Another session already has that name.")
            else:
                fs.name, fs.participant, fs.notes, fs.consent = name.strip(), participant or None, notes or None, consent
                wanted = {t.strip() for t in tags.split(",") if t.strip()}
                fs.tags = [t for t in fs.tags if t.tag in wanted] + \
                    [SessionTag(tag=t) for t in sorted(wanted - {t.tag for t in fs.tags})]
                db.commit()
                st.success("Saved.")

    st.subheader("Delete")
    st.write("Deleting removes the session, every result of it and its stored photos and videos. "
             "This cannot be undone.")
    confirm = st.text_input("Type the session's name to confirm")
    if st.button("Delete session", type="primary", disabled=confirm.strip() != fs.name):
        delete_session(db, session_id=session_id, media_root=data_home() / "media")
        st.session_state.pop(SELECTED_SESSION, None)
        st.success("Deleted.")
        st.rerun()

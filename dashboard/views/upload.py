"""Upload: pick or create a session, upload photos and videos, watch them being analysed, see the results."""

from datetime import datetime, time
from pathlib import Path

import pandas as pd
import streamlit as st

from fer_core import MediaError, WeightsError, cleanup, jobs, service
from fer_core.constants import ENSEMBLE, IMAGE_EXTENSIONS, KEEP_CHOICES, MODEL_NAMES, VIDEO_EXTENSIONS, Keep, Outcome
from fer_core.vision.pictures import labelled_photo
from fer_core.wording import counted

import reads
import state
from resources import get_analyzer, get_engine, get_runner
from widgets import photo_labels, plain, progress_of, table

st.title("Upload")
engine = get_engine()
sessions = reads.sessions_overview()
NEW = "New session"
choice = st.selectbox("Session", [NEW] + list(sessions["name"]))
with st.form("upload"):
    if choice == NEW:
        name = st.text_input("Session name", placeholder="e.g. Store 12 panel, week 48")
        c1, c2 = st.columns(2)
        day = c1.date_input("Recorded on", value=datetime.now().date())
        hour = c2.time_input("at", value=time(10, 0))
        participant = st.text_input("Participant or customer label (optional)")
        tags = st.text_input("Tags, comma-separated (optional)", placeholder="product-x, store-12, interview")
        notes = st.text_area("Notes (optional)")
        consent = st.checkbox("Participants consented to the analysis of their faces")
    else:
        name, day, hour, participant, tags, notes, consent = choice, None, None, None, "", None, False
    keep_labels = {
        Keep.MEDIA: "the uploaded files (thumbnails and re-analysis work)",
        Keep.FACES: "small pictures of the faces only",
        Keep.NONE: "nothing but the results",
    }
    keep = st.radio("Besides the results, keep", KEEP_CHOICES, format_func=keep_labels.get, horizontal=True)
    files = st.file_uploader(
        "Photos and videos",
        accept_multiple_files=True,
        type=[e.lstrip(".") for e in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS],
    )
    submitted = st.form_submit_button("Analyse", type="primary")

if submitted:
    if not name or not name.strip():
        st.error("Give the session a name.")
    elif not files:
        st.error("Choose at least one photo or video.")
    else:
        bar = st.progress(0.0, text="Starting...")
        with cleanup.upload_folder() as tmp:
            paths = []
            for i, f in enumerate(files):  # keep the extension: it tells photos from videos
                p = Path(tmp) / f"{i:04d}{Path(f.name).suffix.lower()}"
                p.write_bytes(f.getvalue())
                paths.append(p)
            details = dict(
                session_name=name,
                recorded_at=datetime.combine(day, hour) if day else None,
                participant=participant or None,
                notes=notes or None,
                consent=consent,
                keep=keep,
                tags=[t.strip() for t in tags.split(",") if t.strip()],
                display_names=[f.name for f in files],
            )
            try:
                started = service.start(paths, engine=engine, analyzer=get_analyzer(), runner=get_runner(), **details)
            except WeightsError as exc:  # nothing was stored
                st.error(plain(exc))
                st.stop()
            reads.changed()
            st.session_state[state.SELECTED_SESSION] = started.session_id
            if started.error:
                st.error(plain(f"The files are saved, but {started.error}. Send them again from the Jobs page."))
                st.stop()
            if started.on_workers:
                bar.progress(1.0, text=f"{counted(len(started.job_ids), 'file')} queued for the analysis workers")
                st.page_link("views/jobs.py", label="Follow them on the Jobs page", icon=":material/work:")
                st.stop()
            st.caption("The analysis goes on if you open another page; the Jobs page follows it.")
            results = jobs.wait(started.job_ids, engine=engine, on_progress=progress_of(bar))
            bar.progress(1.0, text="Done")
            outcome = pd.DataFrame(
                [
                    {
                        "file": o.file,
                        "status": o.status,
                        "people": o.people,
                        "faces": o.faces,
                        "note": o.error or o.note or "",
                    }
                    for o in results
                ]
            )
            table(outcome.rename(columns={"people": "people seen", "faces": "face readings"}))
            failed = outcome[outcome.status == Outcome.FAILED]
            if len(failed):
                st.warning(f"{counted(len(failed), 'file')} could not be analysed; the others were stored.")
            blur = get_analyzer().config.blur_faces
            for o, p in zip(results, paths):
                if o.status == Outcome.FAILED or o.media_id is None or p.suffix.lower() not in IMAGE_EXTENSIONS:
                    continue
                faces = reads.face_predictions(media_id=o.media_id)
                labels = photo_labels(faces, [ENSEMBLE, *MODEL_NAMES])
                try:
                    picture = labelled_photo(p, labels, blur=blur)
                except MediaError:
                    continue
                st.image(picture, caption=plain(f"{o.file}: {counted(len(faces), 'face')}"))
        st.page_link("views/session.py", label="Open the session's charts", icon=":material/movie:")

"""Upload: pick or create a session, upload photos and videos, watch them being analysed, see the results."""

import tempfile
from datetime import datetime, time
from pathlib import Path

import cv2
import pandas as pd
import streamlit as st

from fer_core import MediaError, WeightsError, jobs, service
from fer_core.constants import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from fer_core.pipeline import IngestSummary
from fer_core.storage import queries as Q
from fer_core.vision.media import read_image
from fer_core.vision.pictures import blur_faces

from resources import get_analyzer, get_engine, get_runner
from widgets import SELECTED_SESSION

st.title("Upload")
engine = get_engine()
sessions = Q.sessions_overview(engine)
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
        "media": "the uploaded files (thumbnails and re-analysis work)",
        "faces": "small pictures of the faces only",
        "none": "nothing but the results",
    }
    keep = st.radio("Besides the results, keep", list(keep_labels), format_func=keep_labels.get, horizontal=True)
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
        with tempfile.TemporaryDirectory() as tmp:
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
            broker = jobs.broker_url()
            try:
                if not broker:
                    get_analyzer().load_models()  # missing weights: say so before anything is stored
                session_id, job_ids = jobs.submit(paths, engine=engine, **details)
                st.session_state[SELECTED_SESSION] = session_id
                # Workers, or this process's runner thread: the analysis goes on if the user leaves this page.
                service.dispatch(job_ids, engine=engine, runner=get_runner())
            except WeightsError as exc:
                st.error(str(exc))
                st.stop()
            except Exception as exc:  # the jobs are stored: "Retry" on the Jobs page sends them again
                where = "the task queue could not be reached" if broker else "the analysis could not start"
                st.error(f"The files are saved, but {where} ({exc}). Send them again from the Jobs page.")
                st.stop()
            if broker:
                bar.progress(1.0, text=f"{len(job_ids)} file(s) queued for the analysis workers")
                st.page_link("views/jobs.py", label="Follow them on the Jobs page", icon=":material/work:")
                st.stop()
            st.caption("The analysis goes on if you open another page; the Jobs page follows it.")
            results = jobs.wait(job_ids, engine=engine, on_progress=lambda f, m: bar.progress(min(f, 1.0), text=m))
            summary = IngestSummary(session_id=session_id, files=results)
            bar.progress(1.0, text="Done")
            st.session_state[SELECTED_SESSION] = summary.session_id
            outcome = pd.DataFrame(
                [
                    {"file": o.file, "status": o.status, "people": o.people, "faces": o.faces, "error": o.error or ""}
                    for o in summary.files
                ]
            )
            st.dataframe(outcome, hide_index=True, column_config={"people": "people seen", "faces": "face readings"})
            failed = outcome[outcome.status == "failed"]
            if len(failed):
                st.warning(f"{len(failed)} file(s) could not be analysed; the others were stored.")
            for o, p in zip(summary.files, paths):
                if o.status == "failed" or o.media_id is None or p.suffix.lower() not in IMAGE_EXTENSIONS:
                    continue
                faces = Q.face_predictions(engine, media_id=o.media_id)
                try:
                    image = read_image(p)
                except MediaError:
                    continue
                if get_analyzer().config.blur_faces:
                    image = blur_faces(image, [(r.x, r.y, r.w, r.h) for r in faces.itertuples()])
                thick = max(2, image.shape[1] // 400)
                for r in faces.itertuples():
                    cv2.rectangle(image, (r.x, r.y), (r.x + r.w, r.y + r.h), (0, 200, 0), thick)
                    text = f"R:{r.label_resnet50} V:{r.label_vgg16}"
                    cv2.putText(
                        image,
                        text,
                        (r.x, max(12, r.y - 2 * thick)),
                        cv2.FONT_HERSHEY_SIMPLEX,
                        thick / 3,
                        (0, 200, 0),
                        thick,
                    )
                st.image(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), caption=f"{o.file}: {len(faces)} face(s)")
        st.page_link("views/session.py", label="Open the session's charts", icon=":material/movie:")

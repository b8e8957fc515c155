"""Dashboard entry point: `streamlit run dashboard/Home.py`.

What the product does, totals and the latest sessions from the database
(DATABASE_URL, or the default SQLite file), the models in use with their
model-card accuracy, and a quick check of one photo.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import pandas as pd
import streamlit as st

from resources import get_analyzer, get_engine

from fer_core import MediaError, WeightsError
from fer_core import queries as Q
from fer_core.constants import MODEL_NAMES
from fer_core.registry import spec


def models_table() -> pd.DataFrame:
    rows = []
    for name in MODEL_NAMES:
        s = spec(name)
        card = s.card()
        rows.append({"model": name, "parameters": f"{s.params:,}", "version": s.version,
                     "PublicTest accuracy %": card.get("publictest", {}).get("accuracy"),
                     "weights present": s.weights_file.is_file()})
    return pd.DataFrame(rows)


def draw(image, faces) -> "cv2.Mat":
    out = image.copy()
    for f in faces:
        x, y, w, h = f["box"]
        thick = max(2, out.shape[1] // 400)
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 200, 0), thick)
        label = " / ".join(f"{m[:3]}: {p['label']}" for m, p in f["predictions"].items())
        cv2.putText(out, label, (x, max(0, y - 2 * thick)), cv2.FONT_HERSHEY_SIMPLEX, thick / 3, (0, 200, 0), thick)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


st.set_page_config(page_title="Feedback emotions", page_icon=":material/mood:", layout="wide")
st.title("Feedback emotions")
st.write("Upload the photos and videos of a customer-feedback session: every face is found and its expression "
         "classified by two deep models (ResNet50 and VGG16) and their ensemble.")

engine = get_engine()
totals = Q.totals(engine)
if not totals["sessions"]:
    st.info("No sessions yet. Ingest a session's photos and videos with "
            "`python -m fer_core ingest --session NAME FILE...`, or try a single photo below.")
else:
    cols = st.columns(4)
    cols[0].metric("Sessions", int(totals["sessions"]))
    cols[1].metric("Media files", int(totals["media"]))
    cols[2].metric("Faces", int(totals["faces"]))
    cols[3].metric("Time span", f"{pd.Timestamp(totals['first']):%Y-%m-%d} to {pd.Timestamp(totals['last']):%Y-%m-%d}")
    st.subheader("Latest sessions")
    latest = Q.sessions_overview(engine, limit=10)
    st.dataframe(latest[["name", "recorded_at", "participant", "media", "faces", "failed"]], hide_index=True)

st.subheader("Models in use")
st.dataframe(models_table(), hide_index=True)

st.subheader("Try a photo")
upload = st.file_uploader("Photo", type=["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"])
if upload is not None:
    analyzer = get_analyzer()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(upload.name).name
        path.write_bytes(upload.getvalue())
        try:
            with st.spinner("Finding faces and classifying them..."):
                result = analyzer.analyze_image(path)
        except (MediaError, WeightsError) as exc:
            st.error(str(exc))
        else:
            st.text(f"{upload.name}: {len(result.faces)} face(s) found")
            if result.faces:
                from fer_core.media import read_image

                st.image(draw(read_image(path), result.faces))
                st.dataframe(result.to_frame(), hide_index=True)

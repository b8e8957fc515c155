"""Session: media, emotion distribution per model, video timelines, satisfaction, strongest moments, disagreements."""

import html

import pandas as pd
import streamlit as st

from fer_core.storage import queries as Q

import charts
from resources import get_engine
from widgets import chart, face_gallery, session_picker

st.title("Session")
engine = get_engine()
session_id = session_picker()
if session_id is None:
    st.stop()

media = Q.session_media(engine, session_id=session_id)
st.subheader("Media")
st.dataframe(
    media[["original_name", "kind", "status", "people", "faces", "duration_s", "error"]].rename(
        columns={"people": "people seen", "faces": "face readings"}
    ),
    hide_index=True,
)
c1, c2 = st.columns(2)
c1.metric("People seen", int(media["people"].sum()), help=charts.PEOPLE_HELP)
c2.metric("Face readings", int(media["faces"].sum()), help=charts.READINGS_HELP)

st.subheader("Emotion distribution per model")
c1, c2 = st.columns(2)
measure = c1.radio("Measure", ["mean probability", "share by top emotion"], horizontal=True)
unit = charts.UNIT_CHOICES[c2.radio("Count", list(charts.UNIT_CHOICES), horizontal=True)]
value = "mean_prob" if measure == "mean probability" else "label_share"
dist = Q.emotion_distribution(engine, session_id=session_id, per=unit)
if dist.empty:
    st.info("No face was found in this session's media yet.")
    st.stop()
st.caption(charts.UNIT_HELP[unit])
dist_fig = charts.distribution_figure(dist, value=value)
chart(dist_fig, dist, f"emotion-distribution-per-{unit}")

faces = Q.face_predictions(engine, session_id=session_id)


def thumbs(rows: pd.DataFrame, caption) -> None:
    where = media.rename(columns={"id": "media_id"})[["media_id", "stored_path", "kind"]]
    face_gallery(rows.merge(where, on="media_id", how="left").assign(session_id=session_id), caption)


videos = media[(media.kind == "video") & (media.status == "done") & (media.faces > 0)]
model_names = {"Ensemble": "ensemble", "ResNet50": "resnet50", "VGG16": "vgg16"}
if len(videos):
    st.subheader("Videos")
    names = {int(i): n for i, n in zip(videos["id"], videos["original_name"])}
    video_id = st.selectbox("Video", list(names), format_func=names.get, key=f"video-of-{session_id}")
    c1, c2, c3 = st.columns(3)
    model = model_names[c1.radio("Model", list(model_names), horizontal=True)]
    bin_s = c2.select_slider("Bin (seconds)", [0.5, 1, 2, 5, 10, 30], value=2)
    smooth_s = (
        Q.SMOOTH_S
        if c3.toggle(
            "Smooth each person",
            value=True,
            help=f"A moving average over {Q.SMOOTH_S:g} s of each person's readings (the stored readings stay raw).",
        )
        else 0.0
    )
    tl = Q.video_timeline(engine, media_id=video_id, bin_s=bin_s, model=model, smooth_s=smooth_s)
    chart(charts.timeline_figure(tl, title=f"Emotions over the video ({model})"), tl, f"timeline-{video_id}-{model}")
    sat = charts.satisfaction(tl, by=["t_s"])
    st.caption(charts.SATISFACTION_HELP)
    chart(charts.satisfaction_figure(sat, x="t_s", x_title="time in video (s)"), sat, f"satisfaction-{video_id}")
    per_track = Q.video_timeline(engine, media_id=video_id, bin_s=bin_s, model=model, by_track=True, smooth_s=smooth_s)
    if per_track["track"].nunique() > 1:
        chart(charts.track_timeline_figure(per_track), per_track, f"tracks-{video_id}-{model}")
    vf = faces[faces.media_id == video_id]
    st.markdown("**Strongest moments** (ensemble satisfaction index per face)")
    c1, c2 = st.columns(2)
    with c1:
        st.caption("Most negative")
        thumbs(vf.nsmallest(3, "satisfaction"), lambda r: f"{r.t_s:.1f} s: {r.label_ensemble} ({r.satisfaction:+.2f})")
    with c2:
        st.caption("Most positive")
        thumbs(vf.nlargest(3, "satisfaction"), lambda r: f"{r.t_s:.1f} s: {r.label_ensemble} ({r.satisfaction:+.2f})")

st.subheader("Where the models disagree")
dis = Q.disagreements(engine, session_id=session_id, limit=12)
if dis.empty:
    st.write("ResNet50 and VGG16 agree on every face of this session.")
else:
    face_gallery(dis, lambda r: f"ResNet50: {r.label_resnet50}, VGG16: {r.label_vgg16}")
    st.dataframe(
        dis[["original_name", "t_s", "label_resnet50", "confidence_resnet50", "label_vgg16", "confidence_vgg16"]],
        hide_index=True,
    )


def session_report() -> bytes:
    """A self-contained report: numbers and interactive charts in one HTML file (user text escaped).
    Built only when the button is clicked."""
    name = Q.sessions_overview(engine).set_index("id").loc[session_id, "name"]
    parts = [
        f"<html><head><meta charset='utf-8'><title>{html.escape(name)}</title></head><body>",
        f"<h1>Session report: {html.escape(name)}</h1>",
        media[["original_name", "kind", "status", "people", "faces", "duration_s"]]
        .rename(columns={"people": "people seen", "faces": "face readings"})
        .to_html(index=False),
        f"<p>{html.escape(charts.UNIT_HELP[unit])}</p>",
        dist_fig.to_html(include_plotlyjs=True, full_html=False),
        dist.to_html(index=False),
    ]
    for v in videos.itertuples():
        tl = Q.video_timeline(engine, media_id=v.id, bin_s=2, model="ensemble")
        parts.append(
            charts.timeline_figure(tl, title=f"{html.escape(v.original_name)} (ensemble)").to_html(
                include_plotlyjs=False, full_html=False
            )
        )
    parts.append(f"<p>{html.escape(charts.SATISFACTION_HELP)}</p></body></html>")
    return "\n".join(parts).encode()


st.download_button(
    "Download the session report (HTML)",
    data=session_report,
    file_name=f"session-{session_id}-report.html",
    mime="text/html",
    icon=":material/description:",
)

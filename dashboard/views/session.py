"""Session: media, emotion distribution per model, video timelines, satisfaction, strongest moments, disagreements."""

import pandas as pd
import streamlit as st

from fer_core.constants import MODEL_NAMES, OPINIONS, MediaKind, Outcome

import charts
import reads
import state
from report import session_report
from widgets import chart, face_gallery, labels_caption, session_picker, table

st.title("Session")
session_id = session_picker()
if session_id is None:
    st.stop()

media = reads.session_media(session_id)
st.subheader("Media")
table(
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
dist = reads.emotion_distribution(session_id=session_id, per=unit)
if dist.empty:
    st.info("No face was found in this session's media yet.")
    st.stop()
st.caption(charts.UNIT_HELP[unit])
dist_fig = charts.distribution_figure(dist, value=value)
chart(dist_fig, dist, f"emotion-distribution-per-{unit}")

faces = reads.face_predictions(session_id=session_id)


def thumbs(rows: pd.DataFrame, caption) -> None:
    where = media.rename(columns={"id": "media_id"})[["media_id", "stored_path", "kind"]]
    face_gallery(rows.merge(where, on="media_id", how="left").assign(session_id=session_id), caption)


videos = media[(media.kind == MediaKind.VIDEO) & (media.status == Outcome.DONE) & (media.faces > 0)]
if len(videos):
    st.subheader("Videos")
    names = {int(i): n for i, n in zip(videos["id"], videos["original_name"])}
    video_id = st.selectbox("Video", list(names), format_func=names.get, key=state.chosen_video(session_id))
    c1, c2, c3 = st.columns(3)
    model = c1.radio("Model", OPINIONS, format_func=charts.MODEL_LABELS.get, horizontal=True)
    bin_s = c2.select_slider("Bin (seconds)", [0.5, 1, 2, 5, 10, 30], value=2)
    smooth_s = (
        reads.SMOOTH_S
        if c3.toggle(
            "Smooth each person",
            value=True,
            help=f"A moving average over {reads.SMOOTH_S:g} s of each person's readings (the stored readings stay raw).",
        )
        else 0.0
    )
    tl = reads.video_timeline(media_id=video_id, bin_s=bin_s, model=model, smooth_s=smooth_s)
    chart(
        charts.timeline_figure(tl, title=f"Emotions over the video ({charts.MODEL_LABELS[model]})"),
        tl,
        f"timeline-{video_id}-{model}",
    )
    sat = charts.satisfaction(tl, by=["t_s"])
    st.caption(charts.SATISFACTION_HELP)
    chart(charts.satisfaction_figure(sat, x="t_s", x_title="time in video (s)"), sat, f"satisfaction-{video_id}")
    per_track = reads.video_timeline(media_id=video_id, bin_s=bin_s, model=model, by_track=True, smooth_s=smooth_s)
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
dis = reads.disagreements(session_id=session_id, limit=12)
if dis.empty:
    st.write("The models agree on every face of this session.")
else:
    face_gallery(dis, labels_caption)
    columns = [f"{what}_{m}" for m in MODEL_NAMES for what in ("label", "confidence")]
    table(dis[["original_name", "t_s", *columns]], hide_index=True)


st.download_button(
    "Download the session report (HTML)",
    data=lambda: session_report(session_id, per=unit),
    file_name=f"session-{session_id}-report.html",
    mime="text/html",
    icon=":material/description:",
)

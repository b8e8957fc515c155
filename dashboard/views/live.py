"""Live: analyse a participant through the browser's camera as the session happens, and keep the readings."""

import logging
from datetime import datetime

import av
import pandas as pd
import streamlit as st
from streamlit_webrtc import WebRtcMode, webrtc_streamer

from fer_core import WeightsError, service, settings
from fer_core.constants import KEEP_CHOICES, OPINIONS, Keep
from fer_core.live import LiveDestination

import charts
import reads
import state
from resources import get_analyzer, get_engine
from widgets import plain

st.title("Live")
st.caption(
    "Start the camera: faces are found and read by both models as the participant talks, and the video comes "
    "back with each face's label. Stop saves the readings into the session as one live recording, tracked "
    "into people like an uploaded video."
)
engine = get_engine()
live_settings = settings.current()
holder = st.session_state.setdefault(state.LIVE, {"recording": None, "saved": None})
recording = holder["recording"]
if recording is not None and recording.saved is not None and holder["saved"] is not recording:
    holder["saved"] = recording  # stored by on_ended when the camera stopped
    reads.changed()
running = recording is not None and recording.running and recording.saved is None

sessions = reads.sessions_overview()
NEW = "New session"
c1, c2 = st.columns(2)
choice = c1.selectbox("Session", [NEW] + list(sessions["name"]), disabled=running)
if choice == NEW:
    st.session_state.setdefault(state.LIVE_NAME, f"Live session {datetime.now():%Y-%m-%d %H:%M}")
    name = c2.text_input("Session name", key=state.LIVE_NAME, disabled=running)
else:
    name = choice
    c2.text_input("Session name", value=choice, disabled=True)
c3, c4 = st.columns(2)
participant = c3.text_input("Participant or customer label (optional)", disabled=running)
tags = c4.text_input("Tags, comma-separated (optional)", disabled=running)
keep_labels = {
    Keep.MEDIA: "the video (the analysed frames)",
    Keep.FACES: "small pictures of the faces only",
    Keep.NONE: "nothing but the readings",
}
keep = st.radio(
    "Besides the readings, keep",
    KEEP_CHOICES,
    index=KEEP_CHOICES.index(Keep.NONE),
    format_func=keep_labels.get,
    horizontal=True,
    disabled=running,
)
consent = st.checkbox("The participant consented to the analysis of their face", disabled=running)

if not running and (recording is None or recording.saved is not None or not recording.frames_in):
    try:  # ready for the next start; nothing is written until a run stops
        destination = LiveDestination(
            session_name=name,
            participant=participant or None,
            tags=[t.strip() for t in tags.split(",") if t.strip()],
            consent=consent,
            keep=keep,
        )
        if recording is not None and recording.saved is None:
            recording.discard()  # never started (or got a frame or two as this ran): nothing to keep
        recording = holder["recording"] = service.start_live(
            destination,
            engine=engine,
            analyzer=get_analyzer(),
            to_image=lambda frame: frame.to_ndarray(format="bgr24"),
            wrap=lambda image: av.VideoFrame.from_ndarray(image, format="bgr24"),
        )
    except (ValueError, WeightsError) as exc:
        recording = holder["recording"] = None
        st.error(plain(exc))


def on_frame(frame: av.VideoFrame) -> av.VideoFrame:
    """The server's callback for each camera frame (not the page's thread): hand it to this tab's recording,
    send back the newest labelled frame. It looks the recording up at each frame, not when this page ran."""
    rec = holder["recording"]
    return rec.offer(frame) if rec is not None else frame


def on_ended() -> None:
    """The camera stopped (STOP, the tab closed, another page opened): store the run even if no page runs again."""
    rec = holder["recording"]
    if rec is not None:
        try:
            service.save_live(rec, engine=engine)
        except Exception:  # the page offers to save again; the readings stay in memory (and in the journal)
            logging.getLogger("dashboard").exception("could not store the live run")


ice = {"iceServers": live_settings.live_ice_servers}  # none by default: this machine and its LAN only
camera, side = st.columns([3, 2])
with camera:
    stream = webrtc_streamer(
        key="live-camera",
        mode=WebRtcMode.SENDRECV,
        video_frame_callback=on_frame,
        on_video_ended=on_ended,
        rtc_configuration=ice,
        server_rtc_configuration=ice,
        media_stream_constraints={  # 15 frames a second are plenty for 8 analyses a second, and half the decoding
            "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 15}},
            "audio": False,
        },
        async_processing=False,  # the callback only hands frames over (fer_core/live.py): it never blocks
    )
    if recording is not None and stream.state.playing:
        if st.button("Mark moment", icon=":material/flag:", type="primary"):
            st.toast(f"Marked at {recording.mark():.1f} s")

if recording is not None and not stream.state.playing and recording.frames_in and recording.saved is None:
    try:  # stopped: store it (on_ended may be doing it this very moment; it is done once)
        service.save_live(recording, engine=engine)
    except Exception as exc:
        st.error(plain(f"The run could not be stored ({exc}); its readings are kept here: try again."))
        st.button("Save again")
    if recording.saved is not None:
        holder["saved"] = recording
        reads.changed()


def _running_recording():
    rec = holder["recording"]
    return rec if rec is not None and rec.running else None


@st.fragment(run_every=1.0)
def live_numbers() -> None:
    """Redrawn every second while the camera runs: time, speed, people and the satisfaction index."""
    rec = _running_recording()
    if rec is None:
        return
    stats = rec.stats()
    cols = st.columns(2)
    cols[0].metric("Time", f"{rec.now_s():.0f} s")
    cols[1].metric("Frames/s", f"{stats.fps:.1f}", help="Frames analysed a second (the others are dropped)")
    cols = st.columns(2)
    cols[0].metric("People seen", stats.people)
    cols[1].metric("Delay", f"{stats.latency_ms.get('p50', 0):.0f} ms", help="A frame's arrival to its labels back")
    seen = rec.attention(5.0)
    cols = st.columns(2)
    cols[0].metric(
        "Looking",
        "-" if seen["looking"] is None else f"{seen['looking']:.0%}",
        help="Share of face readings in the last 5 s looking at the camera (or a screen just under it)",
    )
    cols[1].metric("Head", seen["head"] or "-", help="The newest face's head direction, as seen in the picture")
    if rec.error:
        st.warning(plain(rec.error))
    recent = rec.window(5.0)
    st.caption("Satisfaction index, the last 5 s", help=charts.SATISFACTION_HELP)
    cols = st.columns(len(OPINIONS))
    for col, opinion in zip(cols, OPINIONS):
        part = recent[recent["model"] == opinion]
        value = f"{part['satisfaction'].mean():+.2f}" if len(part) else "-"
        col.metric(charts.MODEL_LABELS[opinion].replace(" (mean)", ""), value)


@st.fragment(run_every=3.0)
def live_chart() -> None:
    """The last 60 s, redrawn every 3 s (a chart costs the browser far more than the numbers)."""
    rec = _running_recording()
    if rec is None:
        return
    window = rec.window(60.0)
    if window.empty:
        st.info("No face in view yet.")
        return
    markers = pd.DataFrame([{"start_s": t, "end_s": None, "label": label} for t, label in rec.markers])
    st.plotly_chart(charts.live_figure(window, now_s=rec.now_s(), markers=markers), width="stretch")


with side:
    live_numbers()
    live_chart()

if holder["saved"] is not None and not stream.state.playing:
    saved = holder["saved"]
    outcome, stats = saved.saved, saved.stats()
    st.success(
        plain(
            f"Saved to {saved.destination.session_name}: {outcome.faces} face readings of {outcome.people} "
            f"people and {len(saved.markers)} marked moments over {stats.seconds:.0f} s "
            f"({stats.fps:.1f} analysed frames a second; a frame's labels came back after "
            f"{stats.latency_ms.get('p50', 0):.0f} ms, {stats.latency_ms.get('p95', 0):.0f} ms at worst for 95%)."
        )
    )
    st.session_state[state.SELECTED_SESSION] = saved.session_id
    st.page_link("views/session.py", label="Open the session's charts", icon=":material/movie:")

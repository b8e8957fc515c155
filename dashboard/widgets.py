"""Small Streamlit building blocks shared by the pages: charts with downloads, the session picker, thumbnails."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from fer_core import MediaError, service
from fer_core.constants import MODEL_NAMES
from fer_core.exports import neutralise_formulas, to_csv
from fer_core.storage.store import media_store
from fer_core.trust import access, audit
from fer_core.wording import counted

import charts
import reads
import state
import text_tables
from resources import get_analyzer, get_engine


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower() or "chart"


def _exported(slug: str, fmt: str, make):
    """``make`` as a download's data, recorded in the audit trail as an export when it is made (clicked)."""
    engine = get_engine()  # now, in the script run: the download is made outside it

    def made():
        audit.record(engine, "export chart", target=f"{slug}.{fmt}")
        return make()

    return as_me(made)


def chart(fig, data: pd.DataFrame, name: str) -> None:
    """Show a figure, with PNG, SVG, interactive HTML and CSV downloads (built only when clicked, each recorded
    in the audit trail)."""
    st.plotly_chart(fig, width="stretch")
    slug = _slug(name)
    exports = (
        ("png", "image/png", ":material/image:", lambda: charts.to_image(fig, "png")),
        ("svg", "image/svg+xml", ":material/draw:", lambda: charts.to_image(fig, "svg")),
        ("html", "text/html", ":material/public:", lambda: charts.to_html(fig)),
        ("csv", "text/csv", ":material/table:", lambda: to_csv(data)),
    )
    for col, (fmt, mime, icon, make) in zip(st.columns(len(exports)), exports):
        col.download_button(
            fmt.upper(),
            data=_exported(slug, fmt, make),
            file_name=f"{slug}.{fmt}",
            mime=mime,
            key=f"{fmt}-{slug}",
            icon=icon,
        )


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])")


def plain(text) -> str:
    """User text (file, session, participant names) made literal for the Streamlit elements that read
    Markdown (captions, progress messages, alerts): no link, directive, LaTeX or emoji can come of it."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def progress_of(bar):
    """An ``on_progress(fraction, message)`` that moves ``bar``; the messages carry file names."""
    return lambda fraction, message: bar.progress(min(fraction, 1.0), text=plain(message))


def as_me(make):
    """``make`` to be called later (a download's data, made when clicked, outside this script run) as the
    account acting now: its rights, its audit trail entry, its face-picture rule."""
    actor = access.current()

    def made():
        with access.acting_as(actor):
            return make()

    return made


# Longer than this, a table scrolls inside its own frame (an upload of hundreds of files lists each one).
PLAIN_ROWS = 30


def table(df: pd.DataFrame, *, hide_index: bool = True) -> None:
    """A table of figures as plain text (``text_tables.py``), or a scrolling one past ``PLAIN_ROWS`` rows.
    User text that would run as a formula when pasted into a spreadsheet is guarded; the product's own signed
    figures ("+53.5 pp", "-0.10") show as they are."""
    if len(df) > PLAIN_ROWS:
        long_table(df, hide_index=hide_index)
        return
    st.html(text_tables.to_html(neutralise_formulas(df, figures_as_they_are=True), hide_index=hide_index))


def long_table(df: pd.DataFrame, **kwargs) -> None:
    """``st.dataframe`` for long lists that scroll and sort, with the same guard (also in its CSV download)."""
    st.dataframe(neutralise_formulas(df, figures_as_they_are=True), **kwargs)


def session_picker(label: str = "Session") -> int | None:
    """Select box over all sessions, remembering the choice across pages. Returns the session id."""
    sessions = reads.sessions_overview()
    if sessions.empty:
        st.info("No sessions yet: add one on the Upload page.")
        if access.may("upload"):
            st.page_link("views/upload.py", label="Go to Upload", icon=":material/upload:")
        return None
    ids = list(sessions["id"])
    names = dict(zip(sessions["id"], sessions["name"]))
    linked = st.query_params.get("session")  # a link from Home opens its session
    if linked is not None and linked.isdigit() and int(linked) in ids:
        st.session_state[state.SELECTED_SESSION] = int(linked)
        del st.query_params["session"]
    current = st.session_state.get(state.SELECTED_SESSION)
    index = ids.index(current) if current in ids else 0
    chosen = st.selectbox(label, ids, index=index, format_func=lambda i: names[i])
    st.session_state[state.SELECTED_SESSION] = chosen
    return chosen


def labels_caption(row) -> str:
    """Each model's label of one face, e.g. "ResNet50: sad, VGG16: neutral"."""
    return ", ".join(f"{charts.MODEL_LABELS[m]}: {getattr(row, 'label_' + m)}" for m in MODEL_NAMES)


def face_gallery(rows: pd.DataFrame, caption, columns: int = 6) -> None:
    """Thumbnails of faces, from the stored media or the stored face pictures; captions are plain text.

    ``rows`` needs detection_id, session_id, stored_path, kind, t_s, x, y, w, h."""
    blur = get_analyzer().config.blur_faces
    store = media_store()
    cols = st.columns(columns)
    for i, r in enumerate(rows.itertuples()):
        img = service.face_picture(r, blur=blur, store=store)
        if img is None:
            cols[i % columns].text(caption(r))
        else:
            cols[i % columns].image(img, caption=plain(caption(r)))


def play_from(media_id: int, t_s: float, section_key: str | None = None) -> None:
    """Start the Session page's video ``media_id`` at ``t_s`` (a button's on_click), switching the page's
    section (the radio ``section_key``) to its Videos, where the player is."""
    st.session_state[state.PLAY_FROM] = (int(media_id), float(t_s))
    if section_key:
        st.session_state[section_key] = "Videos"


def video_player(row, *, start_s: float, autoplay: bool) -> None:
    """A kept video, playable in the browser (an H.264 copy is made once where its codec is not), from ``start_s``."""
    if not service.can_see_faces():
        st.info("Your account (viewer) does not show videos or face pictures; its results are below.")
        return
    if not row.stored_path:
        st.info("This video itself was not kept (only its results, or its face pictures), so it cannot be played.")
        return
    try:
        path = reads.playable_video(row.stored_path, row.sha256)
    except (MediaError, OSError):
        st.warning("This video could not be prepared for the browser; its results are below.")
        return
    # Streamlit seeks to whole seconds; muted: browsers start a video by itself only without sound (the user can
    # turn it on); a container keyed by the start makes a new player, so that autoplay applies to each click.
    start = int(max(0.0, start_s))
    with st.container(key=f"player-{row.id}-{start}-{int(autoplay)}"):
        st.video(path, start_time=start, autoplay=autoplay, muted=autoplay)


def paginate(items: pd.DataFrame, *, name: str, per_page: int = 24) -> pd.DataFrame:
    """The rows of the current page, with the page's selector under the caller's content."""
    pages = max(1, -(-len(items) // per_page))
    if pages == 1:
        return items
    page = st.number_input(
        f"Page (of {pages}, {per_page} a page)", min_value=1, max_value=pages, value=1, key=state.page_of(name)
    )
    return items.iloc[(page - 1) * per_page : page * per_page]


def photo_labels(faces: pd.DataFrame, models: list[str]) -> list[tuple]:
    """(x, y, w, h, text, emotion) for ``vision.pictures.labelled_photo``: the first model's label and
    confidence in its colour, the other models' labels after it."""
    out = []
    for r in faces.itertuples():
        first = models[0]
        text = f"{getattr(r, 'label_' + first)} {getattr(r, 'confidence_' + first):.0%}"
        for m in models[1:]:
            text += f" | {charts.MODEL_LABELS[m]}: {getattr(r, 'label_' + m)}"
        out.append((int(r.x), int(r.y), int(r.w), int(r.h), text, getattr(r, "label_" + first)))
    return out


CORRECTION_HELP = (
    "The models mistake some expressions for others (fear for sad or surprise, neutral for sad). With enough "
    "reviewed faces of this population (Review page), the shares are corrected for the mistakes the models make "
    "on them, and their intervals include that correction's uncertainty. Off: the raw mean probability."
)


def correction_switch(key: str, available: tuple[bool, str] = (True, "")) -> bool:
    """The switch between shares corrected for the models' known confusions (the default) and the raw mean;
    ``available`` (``reads.correction_available``): where nothing can be corrected the switch is off and
    greyed, and one sentence says why (no "on" switch beside a "not corrected" caption)."""
    can, why = available
    if not can:
        st.toggle("Correct the shares for the models' known confusions", value=False, key=key, disabled=True)
        st.caption(plain("Shares: " + why + "."))
        return False
    return st.toggle(
        "Correct the shares for the models' known confusions",
        value=True,
        key=key,
        help=CORRECTION_HELP,
    )


COUNTS_HELP = (
    "Participants: the people the session is about (by default the session's participant, the most-present "
    "person of each video; set roles under People). Everyone: also interviewers and bystanders. People marked "
    "excluded (a face on a poster or a screen) count nowhere."
)


def everyone_switch(key: str) -> bool:
    """Whether the headline counts everyone seen instead of the participants only (the default)."""
    return st.toggle("Count everyone seen, not only the participants", value=False, key=key, help=COUNTS_HELP)


def say_counts(record: dict, *, everyone: bool, others: int) -> None:
    """One sentence: whom the numbers rest on."""
    who = "everyone seen but the excluded" if everyone else "participants only"
    rest = "" if everyone or not others else f"; {counted(others, 'other person', 'other people')} seen left out"
    thin = ""
    if record["readings"] < THIN_READINGS:
        thin = " Thin evidence: a few readings are a snapshot, not a distribution."
    elif record["people"] < charts.THIN_PEOPLE:
        thin = f" Thin evidence: fewer than {charts.THIN_PEOPLE} people cannot speak for a group."
    st.caption(
        plain(
            f"Counts {who}: {counted(record['people'], 'person', 'people')}, "
            f"{counted(record['readings'], 'reading')}{rest}.{thin}"
        )
    )


THIN_READINGS = 10


def say_correction(records: list[dict]) -> None:
    if records:
        st.caption(plain("Shares: " + records[0].get("correction", "raw mean probabilities") + "."))

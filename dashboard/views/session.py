"""Session: its details, then (one section at a time) the overview, videos with markers and moments, photos
with their labels, people, segments with baselines, and faces."""

import pandas as pd
import streamlit as st

from fer_core import MediaError, service
from fer_core.constants import ENSEMBLE, MODEL_NAMES, OPINIONS, ROLES, MediaKind, Outcome
from fer_core.exports import to_csv
from fer_core.statistics import attention, study
from fer_core.vision.pictures import labelled_photo
from fer_core.wording import counted

import charts
import reads
import state
from resources import get_analyzer, get_engine
from widgets import (
    CORRECTION_HELP,
    COUNTS_HELP,
    as_me,
    chart,
    correction_switch,
    everyone_switch,
    face_gallery,
    labels_caption,
    paginate,
    photo_labels,
    plain,
    play_from,
    say_correction,
    say_counts,
    session_picker,
    table,
    video_player,
)

SECTIONS = ("Overview", "Videos", "Photos", "People", "Segments", "Attention", "Faces")
MEDIA_COLUMNS = {
    "original_name": "file",
    "kind": "kind",
    "status": "status",
    "people": "people seen",
    "faces": "face readings",
    "duration_s": "duration (s)",
    "error": "problem",
}


def files_table(media: pd.DataFrame) -> pd.DataFrame:
    """The session's files as the table shows them: blank where a value does not apply (a photo's duration, a
    file with no problem), not "None"."""
    shown = media[list(MEDIA_COLUMNS)].copy()
    shown["duration_s"] = [f"{d:.1f}" if pd.notna(d) else "" for d in shown["duration_s"]]
    shown["error"] = shown["error"].where(shown["error"].notna(), "")
    return shown.rename(columns=MEDIA_COLUMNS)


st.title("Session")
session_id = session_picker()
if session_id is None:
    st.stop()

details = reads.session_details(session_id) or {}
media = reads.session_media(session_id)
facts = [
    f"recorded {pd.Timestamp(details['recorded_at']):%Y-%m-%d %H:%M}" if details.get("recorded_at") else "no date",
    f"participant: {details['participant']}" if details.get("participant") else None,
    f"tags: {', '.join(details['tags'])}" if details.get("tags") else None,
    "consent recorded" if details.get("consent") else "no consent recorded",
]
st.caption(plain(" · ".join(f for f in facts if f)))
if details.get("notes"):
    st.caption(plain(details["notes"]))
c1, c2, c3 = st.columns(3)
c1.metric("Files", f"{int((media['status'] == Outcome.DONE).sum()):,}")
c2.metric("People seen", f"{int(media['people'].sum()):,}", help=charts.PEOPLE_HELP)
c3.metric("Face readings", f"{int(media['faces'].sum()):,}", help=charts.READINGS_HELP)

SECTION = f"section-{session_id}"
section = st.radio("Show", SECTIONS, horizontal=True, label_visibility="collapsed", key=SECTION)
if int(media["faces"].sum()) == 0:
    table(files_table(media), hide_index=True)
    st.info("No face was found in this session's media yet.")
    st.stop()
model = st.radio(
    "Model", OPINIONS, index=OPINIONS.index(ENSEMBLE), format_func=charts.MODEL_LABELS.get, horizontal=True, key="model"
)
videos = media[(media.kind == MediaKind.VIDEO) & (media.status == Outcome.DONE) & (media.faces > 0)]
markers = reads.markers(session_id)


def moment_buttons(moments: pd.DataFrame, *, key: str, columns: int = 6) -> None:
    """Each moment as a thumbnail and a button that plays its video from there (photos: the face only)."""
    if moments.empty:
        st.write("No reading here.")
        return
    where = media.rename(columns={"id": "media_id"})[["media_id", "stored_path", "kind"]]
    rows = moments.drop(columns=["kind"], errors="ignore").merge(where, on="media_id", how="left")
    for start in range(0, len(rows), columns):  # a row of thumbnails, each with its button under it
        chunk = rows.iloc[start : start + columns]
        face_gallery(
            chunk.assign(session_id=session_id),
            lambda r: f"{r.moment} {r.satisfaction:+.2f} · {r.participant}",
            columns=columns,
        )
        cols = st.columns(columns)
        for i, r in enumerate(chunk.itertuples(), start=start):
            label = f"{r.t_s:.1f} s"
            if r.kind == MediaKind.VIDEO:
                cols[(i - start) % columns].button(
                    label,
                    key=f"{key}-{i}",
                    on_click=play_from,
                    args=(r.media_id, r.t_s, SECTION),
                    icon=":material/play_arrow:",
                )
            else:  # a photo has no time: say what it is instead of "0.0 s"
                cols[(i - start) % columns].caption(plain(f"photo: {r.file}"))


if section == "Overview":
    table(files_table(media), hide_index=True)
    st.subheader("The session in one line")
    everyone = everyone_switch(f"everyone-{session_id}")
    (headline,) = reads.summary(session_id, by="session", model=model, everyone=everyone) or [None]
    others = sum(p["role"] == "other" for p in reads.people_roles(session_id))
    if headline is None or not headline["readings"]:
        st.info("No participant of this session has a reading: count everyone, or set roles under People.")
    else:
        table(charts.summary_table([headline], key="session").drop(columns=["session", "file"]), hide_index=True)
        say_counts(headline, everyone=everyone, others=others)
        say_correction([headline])
    st.subheader("Emotion distribution per model")
    c1, c2 = st.columns(2)
    measures = {"share": "share", "raw mean probability": "mean_prob", "share by top emotion": "label_share"}
    measure = c1.radio("Measure", list(measures), horizontal=True, help=CORRECTION_HELP)
    unit = charts.UNIT_CHOICES[c2.radio("Count", list(charts.UNIT_CHOICES), horizontal=True)]
    dist = reads.emotion_distribution(session_id=session_id, per=unit, everyone=everyone)
    said = dist.attrs.get("correction", {}).get(session_id, "raw mean probabilities")
    dist = dist.assign(share=dist["corrected_share"].fillna(dist["mean_prob"]))
    st.caption(
        charts.UNIT_HELP[unit]
        + (
            " Everyone seen counts (but excluded people)."
            if everyone or unit != "person"
            else " Participants only, as in the line above."
        )
        + (plain(f" Shares: {said}.") if measure == "share" else "")
    )
    chart(
        charts.distribution_figure(dist, value=measures[measure]),
        dist.rename(columns={"mean_prob": "raw_mean_share"}),
        f"emotion-distribution-per-{unit}",
    )
    c1, c2 = st.columns(2)
    for fmt, mime, where in (("pdf", "application/pdf", c1), ("html", "text/html", c2)):
        where.download_button(
            f"Download the session report ({fmt.upper()})",
            data=as_me(lambda fmt=fmt: service.report(session_id, engine=get_engine(), fmt=fmt)),
            file_name=f"session-{session_id}-report.{fmt}",
            mime=mime,
            icon=":material/description:",
        )

elif section == "Videos":
    if videos.empty:
        st.info("This session has no analysed video.")
        st.stop()
    names = {int(i): n for i, n in zip(videos["id"], videos["original_name"])}
    played = st.session_state.get(state.PLAY_FROM)
    if played and played[0] in names:
        st.session_state[state.chosen_video(session_id)] = played[0]
    video_id = st.selectbox("Video", list(names), format_func=names.get, key=state.chosen_video(session_id))
    row = next(videos[videos["id"] == video_id].itertuples())
    start = played[1] if played and played[0] == video_id else 0.0
    here = markers[markers["media_id"] == video_id]
    # the moments beside the player: a browser starts a video by itself only while it is in view
    left, right = st.columns([3, 2])
    with left:
        video_player(row, start_s=start, autoplay=bool(played and played[0] == video_id))
    with right:
        st.markdown("**Strongest moments**")
        rows = study.with_participants(reads.readings(session_id, model))
        moment_buttons(study.key_moments(rows[rows["media_id"] == video_id]), key=f"moments-{video_id}", columns=3)
        if len(here):
            ids = dict(zip(here["id"], here["label"] + " at " + here["start_s"].map("{:g} s".format)))
            go_to = st.selectbox("Marker", list(ids), format_func=ids.get, key=f"go-{video_id}")
            st.button(
                "Play from this marker",
                on_click=play_from,
                args=(video_id, float(here.set_index("id").loc[go_to, "start_s"])),
                icon=":material/play_arrow:",
            )

    c1, c2 = st.columns(2)
    bin_s = c1.select_slider("Bin (seconds)", [0.5, 1, 2, 5, 10, 30], value=2)
    smooth_s = reads.SMOOTH_S if c2.toggle("Smooth each person", value=True, help=charts.SMOOTH_HELP) else 0.0
    tl = reads.video_timeline(media_id=video_id, bin_s=bin_s, model=model, smooth_s=smooth_s)
    fig = charts.with_markers(
        charts.timeline_figure(tl, title=f"Emotions over the video ({charts.MODEL_LABELS[model]})"), here
    )
    st.caption("Click a point of the chart to play the video from there and to mark that moment.")
    picked = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key=f"timeline-{video_id}")
    points = (picked or {}).get("selection", {}).get("points", []) if picked else []
    t_picked = float(points[0]["x"]) if points else None
    if t_picked != st.session_state.get(f"picked-{video_id}"):  # a new click (a selection stays until changed)
        st.session_state[f"picked-{video_id}"] = t_picked
        if t_picked is not None:
            play_from(video_id, t_picked)
            st.rerun()
    sat = charts.satisfaction(tl, by=["t_s"])
    st.caption(charts.SATISFACTION_HELP)
    sat_fig = charts.with_markers(charts.satisfaction_figure(sat, x="t_s", x_title="time in video (s)"), here)
    chart(sat_fig, sat, f"satisfaction-{video_id}")
    with_states = service.with_states(get_engine(), session_id, rows[rows["media_id"] == video_id])
    heads = attention.timeline(with_states, bin_s=bin_s)
    if len(heads):
        head_fig = charts.with_markers(charts.states_timeline_figure(heads), here)
        chart(head_fig, heads, f"head-and-eyes-{video_id}")

    st.subheader("Markers and segments")
    with st.form(f"marker-{video_id}", clear_on_submit=True):
        c1, c2, c3 = st.columns([1, 1, 2])
        t0 = c1.number_input("At (s)", min_value=0.0, value=float(start), step=0.5, help="Filled in by a click")
        t1 = c2.number_input("Until (s), for a segment", min_value=0.0, value=None, step=0.5)
        label = c3.text_input("Label", placeholder="e.g. price shown")
        if st.form_submit_button("Add marker", icon=":material/bookmark_add:"):
            try:
                service.add_marker(video_id, start_s=t0, end_s=t1 or None, label=label, engine=get_engine())
                reads.changed()
                st.rerun()
            except ValueError as exc:
                st.error(plain(exc))
    if len(here):
        shown = here.assign(
            kind=here["end_s"].map(lambda e: "point" if pd.isna(e) else "segment"),
            start_s=here["start_s"].map("{:.1f}".format),
            end_s=here["end_s"].map(lambda e: "" if pd.isna(e) else f"{e:.1f}"),  # a point has no end
        )
        table(
            shown[["label", "kind", "start_s", "end_s"]].rename(columns={"start_s": "from (s)", "end_s": "until (s)"}),
            hide_index=True,
        )
        ids = dict(zip(here["id"], here["label"] + " at " + here["start_s"].map("{:g} s".format)))
        c1, c2 = st.columns(2)
        gone = c1.selectbox("Remove", list(ids), format_func=ids.get, key=f"rm-{video_id}")
        if c2.button("Remove this marker", icon=":material/delete:"):
            service.delete_marker(int(gone), engine=get_engine())
            reads.changed()
            st.rerun()
    with st.expander("Import markers from CSV"):
        st.caption(
            "Columns `file,start_s,end_s,label` (commas, semicolons or tabs; any usual encoding): the file's name as "
            "uploaded, times in seconds or m:ss, `end_s` empty for a point. Each row that cannot be imported (an "
            "unknown file, a bad time, the same marker twice) is listed; the others are imported."
        )
        csv_file = st.file_uploader("Markers CSV", type=["csv"], key=f"csv-{session_id}")
        if csv_file is not None and st.button("Import these markers", icon=":material/upload:"):
            try:
                result = service.import_markers(session_id, csv_file.getvalue(), engine=get_engine())
            except ValueError as exc:
                st.error(plain(f"{csv_file.name}: {exc}"))
            else:
                reads.changed()
                st.success(f"{counted(result['imported'], 'marker')} imported.")
                for problem in result["problems"]:
                    st.warning(plain(f"Not imported: {problem}"))


elif section == "Photos":
    photos = media[(media.kind == MediaKind.PHOTO) & (media.status == Outcome.DONE)]
    if photos.empty:
        st.info("This session has no analysed photo.")
        st.stop()
    if not service.can_see_faces():
        st.info("Your account (viewer) does not show photos or face pictures; the results are in the other sections.")
        st.stop()
    shown = st.multiselect(
        "Labels of",
        OPINIONS,
        default=[model],
        format_func=charts.MODEL_LABELS.get,
        help="The first one colours the box",
    )
    models = shown or [model]
    blur = get_analyzer().config.blur_faces
    cols = st.columns(2)
    for i, p in enumerate(paginate(photos, name=f"photos-{session_id}", per_page=8).itertuples()):
        faces = reads.face_predictions(media_id=int(p.id))
        where = cols[i % 2]
        if not p.stored_path:
            where.caption(plain(f"{p.original_name}: {counted(len(faces), 'face')}; the photo itself was not kept."))
            continue
        try:
            picture = labelled_photo(p.stored_path, photo_labels(faces, models), blur=blur)
        except (MediaError, OSError):
            where.caption(plain(f"{p.original_name}: the stored photo could not be read."))
            continue
        where.image(picture, caption=plain(f"{p.original_name}: {counted(len(faces), 'face')}"))

elif section == "People":
    available = reads.correction_available("sessions", [session_id])
    correct = correction_switch(f"correct-{session_id}", available)
    records = reads.summary(session_id, by="person", model=model, correct=correct)
    if available[0]:  # otherwise the switch said it
        say_correction(records)
    st.caption(
        "Each person seen: a face track in a video, a face in a photo, with their role. People given the same "
        "name are one person (that is how two tracks or two files are merged). Shares are the person's mean "
        "probability of each emotion, with a 95% interval from blocks of their consecutive readings. Headlines "
        "count participants; excluded people are not listed and count nowhere."
    )
    people_table = charts.summary_table(records, key="person")
    table(people_table, hide_index=True)
    fig = charts.shares_figure(records, key="person", title="Emotions per person")
    chart(fig, charts.summary_export(records, key="person"), "people")

    rows = study.with_participants(reads.readings(session_id, model))
    names = list(dict.fromkeys(rows["participant"]))
    st.markdown("**Who is who**")
    by_time = rows.sort_values(["participant", "t_s"])
    position = by_time.groupby("participant").cumcount()
    middle = by_time[position == by_time.groupby("participant")["t_s"].transform("size") // 2]  # mid-appearance
    middle = middle.set_index("participant").loc[names].reset_index()
    picked = paginate(middle, name=f"who-{session_id}", per_page=12)
    where = media.rename(columns={"id": "media_id"})[["media_id", "stored_path", "kind"]]
    face_gallery(
        picked.drop(columns=["kind"]).merge(where, on="media_id", how="left").assign(session_id=session_id),
        lambda r: f"{r.participant} ({r.t_s:.1f} s)",
    )
    with st.form(f"names-{session_id}"):
        st.markdown("**Name people, or merge them**")
        chosen = st.multiselect("People", names, help="Choose several to merge them under one name")
        new_name = st.text_input("Name", placeholder='e.g. "Anna" or "P7"; empty removes the name')
        if st.form_submit_button("Give them this name", icon=":material/badge:") and chosen:
            keys = rows[rows["participant"].isin(chosen)][["media_id", "person"]].drop_duplicates()
            try:
                service.name_people([tuple(map(int, k)) for k in keys.to_numpy()], new_name, engine=get_engine())
                reads.changed()
                st.rerun()
            except ValueError as exc:
                st.error(plain(exc))

    with st.form(f"roles-{session_id}"):
        st.markdown("**Who counts**")
        c1, c2 = st.columns([3, 1])
        chosen = c1.multiselect("People", names, help=COUNTS_HELP, key=f"role-people-{session_id}")
        role = c2.selectbox("Role", [*ROLES, "default"], help="default: the role the rules give")
        if st.form_submit_button("Set their role", icon=":material/how_to_reg:") and chosen:
            keys = rows[rows["participant"].isin(chosen)][["media_id", "person"]].drop_duplicates()
            try:
                service.set_roles(
                    [tuple(map(int, k)) for k in keys.to_numpy()],
                    None if role == "default" else role,
                    engine=get_engine(),
                )
                reads.changed()
                st.rerun()
            except ValueError as exc:
                st.error(plain(exc))

    who = st.selectbox("Person", names, key=f"person-{session_id}")
    mine = rows[rows["participant"] == who]
    st.markdown(f"**{plain(who)}**: {len(mine)} readings in {plain(', '.join(dict.fromkeys(mine['file'])))}")
    for media_id, part in mine.groupby("media_id"):
        if (media.set_index("id").loc[media_id, "kind"]) != MediaKind.VIDEO:
            continue
        tl = charts.binned(part, bin_s=2)
        fig = charts.with_markers(
            charts.timeline_figure(tl, title=f"{charts.plotly_text(who)}: {charts.plotly_text(part['file'].iloc[0])}"),
            markers[markers["media_id"] == media_id],
        )
        chart(fig, tl, f"person-{who}-{media_id}")
    st.markdown("**Strongest moments of this person**")
    moment_buttons(study.key_moments(mine), key=f"person-moments-{session_id}")

elif section == "Attention":
    st.caption(charts.STATE_HELP)
    for by, key, title in (("person", "person", "Per person"), ("segment", "segment", "Per segment")):
        records = reads.summary(session_id, by=by, model=model)
        if not records:
            continue
        st.markdown(f"**{title}**")
        states = charts.states_table(records, key=key)
        table(states, hide_index=True)
        export = charts.states_export(records, key=key)
        st.download_button(
            "CSV", data=to_csv(export), file_name=f"attention-per-{by}.csv", mime="text/csv", key=f"states-{by}"
        )
    missing = reads.face_states(session_id)["states_missing"].value_counts()
    if len(missing):
        st.caption(plain("Readings without states: " + ", ".join(f"{n} ({why})" for why, n in missing.items()) + "."))

elif section == "Segments":
    segments = study.segments(markers)
    if segments.empty:
        st.info("No segment yet: add one (a marker with an end) on the Videos section, or import them from CSV.")
        st.stop()
    c1, c2, c3 = st.columns([1, 1, 1])
    use_baseline = c1.toggle("Subtract each person's baseline", key=f"baseline-{session_id}")
    segment, first_s = None, None
    if use_baseline:
        how = c2.radio("Baseline", ["a segment", "first seconds"], horizontal=True)
        if how == "a segment":
            segment = c3.selectbox("Baseline segment", sorted(set(segments["label"])))
        else:
            first_s = c3.number_input("First seconds on screen", min_value=0.5, value=5.0, step=0.5)
        base = study.Baseline(segment=segment, first_s=first_s)
        st.info(
            f"Baseline: {base.describe()}, subtracted from each of their readings. The values are differences "
            "in percentage points (they can be negative), not shares."
        )
    available = reads.correction_available("sessions", [session_id])
    correct = correction_switch(f"correct-{session_id}", available) if not use_baseline else False
    records = reads.summary(session_id, by="segment", model=model, segment=segment, first_s=first_s, correct=correct)
    if available[0] or use_baseline:  # otherwise the switch said it
        say_correction(records)
    delta = use_baseline
    st.caption(
        "Per segment: the people in it, their readings, each emotion's share (the mean over people of each "
        "person's mean probability) with a 95% interval by bootstrap over people (one person: over blocks of "
        "consecutive readings), and satisfaction."
    )
    seg_table = charts.summary_table(records, key="segment", delta=delta)
    table(seg_table, hide_index=True)
    fig = charts.shares_figure(records, key="segment", delta=delta, title="Emotions per segment")
    chart(fig, charts.summary_export(records, key="segment", delta=delta), "segments")
    if delta and records and records[0].get("left_out_without_baseline"):
        st.caption(f"{counted(records[0]['left_out_without_baseline'], 'person')} without a baseline reading left out.")
    st.markdown("**Strongest moments per segment**")
    rows = study.with_participants(reads.readings(session_id, model))
    for i, s in enumerate(segments.itertuples()):
        c1, c2 = st.columns([3, 1])
        c1.markdown(plain(f"{s.label} ({s.start_s:g}-{s.end_s:g} s, {s.file})"))
        c2.button(
            "Play this segment",
            key=f"play-segment-{i}",
            on_click=play_from,
            args=(s.media_id, s.start_s, SECTION),
            icon=":material/play_arrow:",
        )
        moment_buttons(study.key_moments(study.in_segment(rows, s), n=2), key=f"segment-moments-{i}")

else:  # Faces
    st.subheader("Every face")
    faces = reads.face_predictions(session_id=session_id)
    face_gallery(
        paginate(faces, name=f"faces-{session_id}")
        .merge(media.rename(columns={"id": "media_id"})[["media_id", "stored_path", "kind"]], on="media_id", how="left")
        .assign(session_id=session_id),
        lambda r: f"{r.t_s:.1f} s: {labels_caption(r)}",
    )
    st.subheader("Where the models disagree")
    dis = reads.disagreements(session_id=session_id, limit=24)
    if dis.empty:
        st.write("The models agree on every face of this session.")
    else:
        face_gallery(dis, labels_caption)
        columns = {
            f"{what}_{m}": f"{charts.MODEL_LABELS[m]} {what}" for m in MODEL_NAMES for what in ("label", "confidence")
        }
        shown = dis.assign(**{c: dis[c].map("{:.0%}".format) for c in columns if c.startswith("confidence")})
        shown["t_s"] = [f"{t:.1f}" if k == MediaKind.VIDEO else "photo" for t, k in zip(dis["t_s"], dis["kind"])]
        table(
            shown[["original_name", "t_s", *columns]].rename(
                columns={"original_name": "file", "t_s": "time (s)", **columns}
            ),
            hide_index=True,
        )

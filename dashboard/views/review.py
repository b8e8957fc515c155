"""Review: a person sets the true expression of faces, so that the models can be scored on the team's own
participants (Compare page)."""

import streamlit as st

from fer_core import WeightsError, service
from fer_core.constants import ENSEMBLE, OPINIONS, REVIEW_LABELS
from fer_core.review_groups import group_moments, moment_cards
from fer_core.trust import access, accounts
from fer_core.wording import counted

import charts
import reads
from resources import get_analyzer, get_engine
from widgets import as_me, paginate, plain, table

NOT_YET = "not reviewed"
st.title("Review faces")
st.write(
    "Set the true expression of faces, or mark them as no face or unclear. The models' accuracy on the faces "
    "you review appears on the Compare page, beside their accuracy on FER-2013."
)
sessions = reads.sessions_overview()
if sessions.empty:
    st.info("No sessions yet: add one on the Upload page.")
    st.stop()

c1, c2, c3 = st.columns(3)
ALL = 0  # no session has id 0
names = {**dict(zip(sessions["id"], sessions["name"])), ALL: "All sessions"}  # the latest first: all can be many
session_id = c1.selectbox("Session", list(names), format_func=names.get, key="review-session") or None
tag = c2.selectbox("Tag", [None, *reads.all_tags()], format_func=lambda t: "any" if t is None else t)
me = access.current().name
if accounts.role_of(get_engine(), me) is not None:  # an account's reviews carry its name, not a typed one
    reviewer = me
    c3.caption(plain(f"Reviews are stored under your account, {me}, with the time."))
else:
    reviewer = c3.text_input("Your name", key="reviewer", help="Stored with each review, with the time")
c1, c2, c3, c4 = st.columns(4)
model = c1.selectbox("Label of", OPINIONS, index=OPINIONS.index(ENSEMBLE), format_func=charts.MODEL_LABELS.get)
label = c2.selectbox("Labelled", [None, *REVIEW_LABELS[:7]], format_func=lambda e: "any" if e is None else e)
low, high = c3.slider("Confidence", 0.0, 1.0, (0.0, 1.0), step=0.05)
only = c4.radio("Show", ["not reviewed", "all", "models disagree"], key="review-show")

st.download_button(
    "Download the reviewed faces (ZIP: CSV and 48x48 face crops)",
    data=as_me(lambda: service.export_reviews(engine=get_engine(), session_id=session_id, tag=tag)),
    file_name="reviewed-faces.zip",
    mime="application/zip",
    icon=":material/download:",
    help="Face crops only where the media or face pictures were kept, and none when faces are pixelated.",
)
faces = reads.faces_to_review(session_id=session_id, tag=tag)
if label:
    faces = faces[faces[f"label_{model}"] == label]
faces = faces[faces[f"confidence_{model}"].between(low, high)]
if only == "not reviewed":
    faces = faces[faces["review"].isna()]
elif only == "models disagree":
    faces = faces[faces["label_resnet50"] != faces["label_vgg16"]]


def gallery(faces) -> None:
    """One card per face, or per moment (a person's consecutive frames that look alike), each with its true-label
    control under its picture; a moment's label is stored for each of its faces."""
    by_moment = st.toggle(
        "One card per moment of a person",
        value=True,
        key="review-moments",
        help="A person's consecutive frames in a video that the ensemble labels alike (at most 10 s, no gap over "
        "1.5 s) are one card: label the moment once, and each of its faces gets that review.",
    )
    if by_moment:
        cards = moment_cards(group_moments(faces))
    else:
        cards = faces.assign(
            faces=[[int(d)] for d in faces["detection_id"]], frames=1, t_first=faces["t_s"], t_last=faces["t_s"]
        )
    st.caption(f"{counted(len(cards), 'card')} for {counted(len(faces), 'face')}.")
    page = paginate(cards.reset_index(drop=True), name="review", per_page=12)
    blur = get_analyzer().config.blur_faces
    options = [NOT_YET, *REVIEW_LABELS]
    with st.form("reviews"):
        choices = []
        cols = st.columns(4)
        for i, r in enumerate(page.itertuples()):
            cell = cols[i % 4].container(border=True)
            picture = service.face_picture(r, blur=blur)
            if picture is not None:
                cell.image(picture)
            when = f"{r.t_first:.1f} s" if r.frames == 1 else f"{r.t_first:.1f}-{r.t_last:.1f} s, {r.frames} frames"
            when = "photo" if r.kind == "photo" else when
            cell.caption(plain(f"#{r.detection_id} · {r.file} · {when}"))
            cell.caption(plain(f"{charts.MODEL_LABELS[model]}: {getattr(r, 'label_' + model)}"))
            current = r.review if isinstance(r.review, str) else NOT_YET
            new = cell.selectbox(
                "True expression", options, index=options.index(current), key=f"true-{r.detection_id}-{r.frames}"
            )
            choices.append((new, current, r.faces))
        if st.form_submit_button("Save these reviews", icon=":material/done_all:"):
            changed = [(face, new) for new, old, ids in choices if new != old and new != NOT_YET for face in ids]
            try:
                saved = service.review_faces(changed, reviewer=reviewer, engine=get_engine())
            except ValueError as exc:
                st.error(plain(exc))
            else:
                reads.changed()
                st.success(f"{counted(saved, 'face')} reviewed.")


if faces.empty:
    st.info("No face matches these filters.")
else:
    gallery(faces)

st.divider()
st.subheader("Adapt the models to a population")
st.caption(
    "From the reviewed faces of the sessions with a tag, each model is adapted and measured by "
    "cross-validation over participants: it is tested on people it did not learn from. The original models stay."
)
METHODS = {
    "auto": "Choose for me: where the faces' pictures are kept, try both methods and keep the one more accurate "
    "on held-out participants; else calibrate",
    "calibrate": "Calibrate: a temperature and one bias per emotion, from the stored probabilities (works "
    "whatever the sessions kept)",
    "finetune": "Fine-tune the classifier heads on the faces' 48x48 crops (needs the sessions to keep their "
    "media or face pictures; faces of sessions that keep nothing are left out)",
}
tags = reads.all_tags()
if not tags:
    st.info("Tag sessions (Upload or Manage) to adapt the models to a population.")
else:
    c1, c2 = st.columns([1, 2])
    pop = c1.selectbox("Tag", tags, key="adapt-tag")
    method = c2.radio("Method", list(METHODS), format_func=METHODS.get, key="adapt-method")
    if st.button("Adapt to this tag", icon=":material/tune:"):
        try:
            with st.spinner("Fitting and cross-validating (fine-tuning takes a minute or two) ..."):
                card = service.adapt(pop, engine=get_engine(), method=method, analyzer=get_analyzer())
        except (ValueError, WeightsError) as exc:
            st.error(plain(exc))
        else:
            reads.changed()
            say = st.warning if card["verdict"].startswith(("worse", "no better")) else st.success
            say(
                plain(
                    f"{card['version']} ({card['chosen_because']}): {card['verdict']}. {card['n']} faces of "
                    f"{counted(card['participants'], 'person')}; not used until you choose it below."
                )
            )
    versions = reads.adapted_versions()
    if len(versions):
        table(
            versions.rename(
                columns={
                    "cv_accuracy": "ensemble, adapted (cross-validated) %",
                    "baseline_accuracy": "ensemble, original %",
                    "n": "faces",
                    "chosen": "analyses its tag",
                }
            ),
            hide_index=True,
        )
        mine = versions[versions["tag"] == pop]
        options = ["original", *mine["version"]]
        current = next(iter(mine[mine["chosen"]]["version"]), "original")
        use = st.selectbox(
            f"New analyses of sessions tagged {pop} use",
            options,
            index=options.index(current),
            help="A session with two such tags uses the tag chosen first. Analyse a session again to redo it.",
        )
        if use != current:
            service.choose_adapted(pop, None if use == "original" else use, engine=get_engine())
            reads.changed()
            st.rerun()

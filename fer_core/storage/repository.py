"""Writing and reading sessions, media and results. Functions take the SQLAlchemy session they work in."""

from __future__ import annotations

import math
import time
import unicodedata
from datetime import datetime
from itertools import combinations
from pathlib import Path

from sqlalchemy import Connection, and_, case, delete, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, aliased

from fer_core.constants import EMOTIONS, MODEL_NAMES, REVIEW_LABELS, ROLES
from fer_core.storage.db import floor_int
from fer_core.storage.orm import (
    CONFIDENCE_BINS,
    AdaptedVersion,
    AnalysisJob,
    AnalysisRun,
    FaceDetection,
    FaceReview,
    FeedbackSession,
    Marker,
    MediaConfidenceBin,
    MediaEmotionSummary,
    MediaFile,
    MediaLabelPair,
    MediaPerson,
    PersonLabel,
    Prediction,
    SessionTag,
    TagAdaptation,
    utcnow,
)
from fer_core.vision.tracking import iou as box_iou

# Bidirectional embeddings, overrides and isolates: they reorder the text around them when shown (a name that
# reads differently from what it is). Right-to-left letters themselves are kept.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_text(text: str | None, *, lines: bool = False) -> str | None:
    """User text as it may be stored and shown: control characters (a NUL, which PostgreSQL refuses, escape
    codes) and bidirectional overrides are dropped, newlines and tabs kept where ``lines`` (notes); NFC form;
    None stays None."""
    if text is None:
        return None
    keep = "\n\t" if lines else ""
    text = unicodedata.normalize("NFC", str(text))
    return "".join(c for c in text if c in keep or (unicodedata.category(c) != "Cc" and c not in BIDI_CONTROLS))


def get_or_create_session(
    db: Session,
    *,
    name: str,
    recorded_at: datetime | None = None,
    participant: str | None = None,
    tags: list[str] | tuple[str, ...] = (),
    notes: str | None = None,
    consent: bool = False,
) -> FeedbackSession:
    """The session called ``name``, created if new; given details fill in blanks, tags are added.

    Race-free across processes: when another process creates the same session (or tag) at the same moment,
    this one's insert fails and it takes the row the other made. Call it first in a transaction: a lost race
    rolls ``db`` back."""
    name = clean_text(name).strip()
    if not name:
        raise ValueError("a session needs a name")
    participant, notes = clean_text(participant), clean_text(notes, lines=True)
    wanted = list(dict.fromkeys(clean_text(t).strip() for t in tags if t and clean_text(t).strip()))
    for attempt in range(5):
        fs = db.scalar(select(FeedbackSession).where(FeedbackSession.name == name))
        if fs is None:
            fs = FeedbackSession(
                name=name, recorded_at=recorded_at, participant=participant, notes=notes, consent=consent
            )
            db.add(fs)
        else:
            fs.recorded_at = fs.recorded_at or recorded_at
            fs.participant = fs.participant or participant
            fs.notes = fs.notes or notes
            fs.consent = fs.consent or consent
        have = {t.tag for t in fs.tags}
        fs.tags.extend(SessionTag(tag=t) for t in wanted if t not in have)
        try:
            db.flush()
            return fs
        except (IntegrityError, OperationalError) as exc:
            # IntegrityError: the other process's row came first; OperationalError: SQLite's reader could not
            # become a writer after that process wrote ("database is locked"). Either way: look again.
            if isinstance(exc, OperationalError) and "locked" not in str(exc):
                raise
            db.rollback()
            time.sleep(0.05 * (attempt + 1))
    raise RuntimeError(f"could not create or find the session {name!r}: the database is too busy; try again")


def find_session(db: Session, *, name: str) -> FeedbackSession | None:
    return db.scalar(select(FeedbackSession).where(FeedbackSession.name == (clean_text(name) or "").strip()))


def update_session(
    db: Session,
    *,
    session_id: int,
    name: str,
    participant: str | None,
    notes: str | None,
    consent: bool,
    tags: list[str] | tuple[str, ...],
) -> None:
    """Replace a session's details and tags. Raises ValueError, in words for the user, on a blank or taken name."""
    name = clean_text(name).strip()
    participant, notes = clean_text(participant), clean_text(notes, lines=True)
    tags = [clean_text(t) for t in tags if t]
    if not name:
        raise ValueError("A session needs a name.")
    taken = db.scalar(select(FeedbackSession.id).where(FeedbackSession.name == name, FeedbackSession.id != session_id))
    if taken is not None:
        raise ValueError("Another session already has that name.")
    fs = db.get(FeedbackSession, session_id)
    if fs is None:
        raise ValueError("That session no longer exists.")
    fs.name, fs.participant, fs.notes, fs.consent = name, participant or None, notes or None, consent
    wanted = {t.strip() for t in tags if t and t.strip()}
    fs.tags = [t for t in fs.tags if t.tag in wanted] + [
        SessionTag(tag=t) for t in sorted(wanted - {t.tag for t in fs.tags})
    ]
    db.commit()


def find_media(db: Session, *, session_id: int, sha256: str) -> MediaFile | None:
    return db.scalar(select(MediaFile).where(MediaFile.session_id == session_id, MediaFile.sha256 == sha256))


def start_run(
    db: Session, *, session_id: int, models: dict[str, str], detector: str, fps: float, settings: dict
) -> AnalysisRun:
    run = AnalysisRun(session_id=session_id, models=models, detector=detector, fps=fps, settings=settings)
    db.add(run)
    db.flush()
    return run


def end_interrupted_runs(db: Session, *, session_id: int, job_id: int) -> int:
    """End the runs of ``job_id`` that never ended (their process was killed mid-file): they get an end time
    and ``"interrupted": true`` in their settings. Returns how many."""
    ended = 0
    for run in db.scalars(
        select(AnalysisRun).where(AnalysisRun.session_id == session_id, AnalysisRun.finished_at.is_(None))
    ):
        if (run.settings or {}).get("job_id") == job_id:
            run.finished_at, run.settings = utcnow(), {**run.settings, "interrupted": True}
            ended += 1
    return ended


def state_columns(face: dict) -> dict:
    """A face record's facial states (``vision.states``) as face_detection columns; all empty when not read."""
    head, gaze = face.get("head") or {}, face.get("gaze") or {}
    return {
        "yaw": head.get("yaw"),
        "pitch": head.get("pitch"),
        "roll": head.get("roll"),
        "gaze_yaw": gaze.get("yaw"),
        "gaze_pitch": gaze.get("pitch"),
        "looking": face.get("looking"),
        "eyes_open": face.get("eyes_open"),
        "mouth_open": face.get("mouth_open"),
        "brow_height": face.get("brow_height"),
        "states_missing": face.get("states_missing"),
    }


def save_faces(
    db: Session, *, media: MediaFile, run_id: int | None, faces: list[dict], versions: dict[str, str]
) -> list[int]:
    """Insert the detections and predictions of one analysed file (the caller commits).
    Returns the new detection ids, in the order of ``faces``."""
    if not faces:
        summarise_media(db, media_id=media.id)  # an analysis again that found no one leaves no old summary
        return []
    rows = [
        {
            "media_id": media.id,
            "session_id": media.session_id,
            "run_id": run_id,
            "frame": f["frame"],
            "t_s": f["t_s"],
            "x": f["box"][0],
            "y": f["box"][1],
            "w": f["box"][2],
            "h": f["box"][3],
            "det_score": f["det_score"],
            "track": f["track"],
            **state_columns(f),
        }
        for f in faces
    ]
    ids = db.scalars(insert(FaceDetection).returning(FaceDetection.id, sort_by_parameter_order=True), rows).all()
    preds = []
    for det_id, f in zip(ids, faces):
        for model, p in f["predictions"].items():
            preds.append(
                {
                    "detection_id": det_id,
                    "model": model,
                    "model_version": versions.get(model, ""),
                    "label": p["label"],
                    "confidence": p["confidence"],
                    **{f"p_{e}": p["probs"][e] for e in EMOTIONS},
                }
            )
    db.execute(insert(Prediction), preds)
    summarise_media(db, media_id=media.id)
    return list(ids)


def summarise_media(db: Session | Connection, *, media_id: int) -> None:
    """(Re)write the media file's rows of media_emotion_summary from its predictions, in SQL."""
    P, D = Prediction, FaceDetection
    cols = ["media_id", "model", "session_id", "faces"]
    exprs = [D.media_id, P.model, D.session_id, func.count()]
    for e in EMOTIONS:
        cols += [f"n_{e}", f"sum_{e}"]
        exprs += [func.sum(case((P.label == e, 1), else_=0)), func.sum(getattr(P, f"p_{e}"))]
    agg = (
        select(*exprs)
        .select_from(P)
        .join(D, D.id == P.detection_id)
        .where(D.media_id == media_id)
        .group_by(D.media_id, P.model, D.session_id)
    )
    db.execute(delete(MediaEmotionSummary).where(MediaEmotionSummary.media_id == media_id))
    db.execute(insert(MediaEmotionSummary).from_select(cols, agg))

    db.execute(delete(MediaLabelPair).where(MediaLabelPair.media_id == media_id))
    for model_a, model_b in combinations(MODEL_NAMES, 2):
        a, b = aliased(P), aliased(P)
        pairs = (
            select(D.media_id, a.model, b.model, a.label, b.label, D.session_id, func.count())
            .select_from(D)
            .join(a, and_(a.detection_id == D.id, a.model == model_a))
            .join(b, and_(b.detection_id == D.id, b.model == model_b))
            .where(D.media_id == media_id)
            .group_by(D.media_id, a.model, b.model, a.label, b.label, D.session_id)
        )
        columns = ["media_id", "model_a", "model_b", "label_a", "label_b", "session_id", "faces"]
        db.execute(insert(MediaLabelPair).from_select(columns, pairs))

    dialect = (db.get_bind() if isinstance(db, Session) else db).dialect.name
    idx = floor_int(P.confidence * CONFIDENCE_BINS, dialect)
    bin_ = case((idx >= CONFIDENCE_BINS, CONFIDENCE_BINS - 1), else_=idx)
    bins = (
        select(D.media_id, P.model, bin_, D.session_id, func.count())
        .select_from(P)
        .join(D, D.id == P.detection_id)
        .where(D.media_id == media_id)
        .group_by(D.media_id, P.model, bin_, D.session_id)
    )
    db.execute(delete(MediaConfidenceBin).where(MediaConfidenceBin.media_id == media_id))
    db.execute(insert(MediaConfidenceBin).from_select(["media_id", "model", "bin", "session_id", "faces"], bins))
    summarise_people(db, media_id=media_id)


def person_key():
    """The person a detection belongs to: its track in a video; in a photo (no track) the face itself."""
    return func.coalesce(FaceDetection.track, -FaceDetection.id)


def summarise_people(db: Session | Connection, *, media_id: int) -> None:
    """(Re)write the media file's rows of media_person: per person and model, readings, first and last
    time, mean probability per emotion and the emotion with the highest mean."""
    P, D = Prediction, FaceDetection
    person = person_key()
    stmt = (
        select(
            D.media_id,
            person.label("person"),
            P.model,
            D.session_id,
            func.count().label("readings"),
            func.min(D.t_s).label("t_first"),
            func.max(D.t_s).label("t_last"),
            *[func.avg(getattr(P, f"p_{e}")).label(f"mean_{e}") for e in EMOTIONS],
        )
        .select_from(P)
        .join(D, D.id == P.detection_id)
        .where(D.media_id == media_id)
        .group_by(D.media_id, person, P.model, D.session_id)
    )
    rows = [dict(r._mapping) for r in db.execute(stmt)]
    for r in rows:
        r["top_label"] = max(EMOTIONS, key=lambda e: r[f"mean_{e}"])
    db.execute(delete(MediaPerson).where(MediaPerson.media_id == media_id))
    if rows:
        db.execute(insert(MediaPerson), rows)


def people_of(db: Session, *, media_id: int) -> int:
    """People seen in a media file (tracks in a video, faces in a photo)."""
    return int(
        db.scalar(select(func.count(func.distinct(MediaPerson.person))).where(MediaPerson.media_id == media_id)) or 0
    )


def delete_session(db: Session, *, session_id: int, media_root: Path | None = None, store=None) -> bool:
    """Delete a session, all its rows and its stored files (these are people's faces).

    Files go from ``store`` (default: the folder ``media_root``, else FER_MEDIA_STORE)."""
    from fer_core.storage.store import media_store, store_for

    fs = db.get(FeedbackSession, session_id)
    if fs is None:
        return False
    store = store or media_store(media_root)
    locations = list(
        db.scalars(
            select(MediaFile.stored_path).where(MediaFile.session_id == session_id, MediaFile.stored_path.is_not(None))
        )
    )
    locations += db.scalars(
        select(AnalysisJob.source).where(AnalysisJob.session_id == session_id, AnalysisJob.source.is_not(None))
    ).all()
    # Delete children explicitly as well as by ON DELETE CASCADE: correct even where FKs are off.
    det_ids = select(FaceDetection.id).where(FaceDetection.session_id == session_id)
    db.execute(delete(Prediction).where(Prediction.detection_id.in_(det_ids)))
    db.execute(delete(FaceDetection).where(FaceDetection.session_id == session_id))
    for table in (
        MediaEmotionSummary,
        MediaLabelPair,
        MediaConfidenceBin,
        MediaPerson,
        PersonLabel,
        Marker,
        FaceReview,
    ):
        db.execute(delete(table).where(table.session_id == session_id))
    db.execute(delete(AnalysisJob).where(AnalysisJob.session_id == session_id))
    db.execute(delete(MediaFile).where(MediaFile.session_id == session_id))
    db.execute(delete(AnalysisRun).where(AnalysisRun.session_id == session_id))
    db.execute(delete(SessionTag).where(SessionTag.session_id == session_id))
    db.execute(delete(FeedbackSession).where(FeedbackSession.id == session_id))
    db.commit()
    db.expunge_all()  # the objects loaded before the bulk deletes are gone
    for location in dict.fromkeys(locations):
        store_for(location, store).delete(location)
    store.delete_prefix(str(session_id))  # face pictures and anything else of the session
    return True


def finish_run(db: Session, run: AnalysisRun) -> None:
    run.finished_at = utcnow()
    db.commit()


# --- people's names ---------------------------------------------------------------------------------------

# A name finds its person again after the file is analysed again when their boxes overlap at least this much
# (intersection over union of the mean boxes) and, in a video, their times overlap.
REMATCH_MIN_IOU = 0.3


def _people_spans(db: Session, *, media_id: int) -> dict[int, tuple[float, float, float, float, float, float]]:
    """Each person of a media file: (t_first, t_last, mean x, y, w, h) from their detections."""
    D = FaceDetection
    person = person_key()
    rows = db.execute(
        select(person, func.min(D.t_s), func.max(D.t_s), func.avg(D.x), func.avg(D.y), func.avg(D.w), func.avg(D.h))
        .where(D.media_id == media_id)
        .group_by(person)
    )
    return {int(r[0]): tuple(float(v) for v in r[1:]) for r in rows}


def name_person(db: Session, *, media_id: int, person: int, label: str | None) -> None:
    """Give a person seen a name (the caller commits); a blank name removes it. The same name on two people
    of a session makes them one participant."""
    label = (clean_text(label) or "").strip()[:200]
    _person_row(db, media_id=media_id, person=person, label=label or None)


def set_role(db: Session, *, media_id: int, person: int, role: str | None) -> None:
    """Set who a person seen is to the study (``constants.ROLES``; None: back to the default), the caller
    commits; ValueError, in words, for an unknown role."""
    if role is not None and role not in ROLES:
        raise ValueError(f"a role is one of {', '.join(ROLES)}; received {role!r}")
    _person_row(db, media_id=media_id, person=person, role=role)


_UNSET = object()


def _person_row(db: Session, *, media_id: int, person: int, label=_UNSET, role=_UNSET) -> None:
    """Write a person's name and/or role into their person_label row, made or dropped as needed."""
    existing = db.scalar(select(PersonLabel).where(PersonLabel.media_id == media_id, PersonLabel.person == person))
    new_label = (existing.label if existing else None) if label is _UNSET else label
    new_role = (existing.role if existing else None) if role is _UNSET else role
    if new_label is None and new_role is None:
        if existing is not None:
            db.delete(existing)
        return
    span = _people_spans(db, media_id=media_id).get(person)
    if span is None:
        raise ValueError(f"no person {person} in this file")
    media = db.get(MediaFile, media_id)
    anchor = dict(zip(("t_first", "t_last", "x", "y", "w", "h"), span))
    if existing is None:
        db.add(
            PersonLabel(
                media_id=media_id, session_id=media.session_id, person=person, label=new_label, role=new_role, **anchor
            )
        )
    else:
        existing.label, existing.role = new_label, new_role
        for k, v in anchor.items():
            setattr(existing, k, v)


def _time_overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Overlap of two time spans over their union; 1 for two equal instants (a photo's faces)."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    union = max(a[1], b[1]) - min(a[0], b[0])
    if union <= 0:
        return 1.0 if inter >= 0 else 0.0
    return max(inter, 0.0) / union


def rematch_people(db: Session, *, media_id: int) -> int:
    """After a file is analysed again, move each name to the new person that best overlaps it in time and box
    (the caller commits). A name nobody matches is kept, unattached, in case a later analysis finds them.
    Returns the names attached."""
    labels = list(db.scalars(select(PersonLabel).where(PersonLabel.media_id == media_id)))
    if not labels:
        return 0
    spans = _people_spans(db, media_id=media_id)
    scored = []
    for lab in labels:
        for person, (t0, t1, *box) in spans.items():
            iou = box_iou((lab.x, lab.y, lab.w, lab.h), box)
            overlap = _time_overlap((lab.t_first, lab.t_last), (t0, t1))
            if iou >= REMATCH_MIN_IOU and overlap > 0:
                scored.append((iou * overlap, lab.id, person))
    for lab in labels:
        lab.person = None
    db.flush()  # frees the (media, person) pairs before they are handed out again
    by_id, taken, attached = {lab.id: lab for lab in labels}, set(), 0
    for _, lab_id, person in sorted(scored, reverse=True):
        lab = by_id[lab_id]
        if lab.person is None and person not in taken:
            lab.person, attached = person, attached + 1
            taken.add(person)
    return attached


# --- markers ----------------------------------------------------------------------------------------------


def add_marker(db: Session, *, media_id: int, start_s: float, end_s: float | None, label: str) -> Marker:
    """A point (``end_s`` None) or a segment on a media file's timeline (the caller commits); ValueError, in
    words for the user, for a blank label or times outside the file."""
    media = db.get(MediaFile, media_id)
    if media is None:
        raise ValueError("no such file")
    label = (clean_text(label) or "").strip()[:200]
    if not label:
        raise ValueError("a marker needs a label")
    finite = math.isfinite(start_s) and (end_s is None or math.isfinite(end_s))
    if not finite or start_s < 0 or (end_s is not None and end_s <= start_s):
        raise ValueError(f"{media.original_name}: a marker starts at 0 s or later and ends after it starts")
    if media.duration_s and start_s > media.duration_s + 0.5:
        raise ValueError(
            f"{media.original_name}: {start_s:g} s is after the end of the video ({media.duration_s:.1f} s)"
        )
    marker = Marker(media_id=media_id, session_id=media.session_id, start_s=start_s, end_s=end_s, label=label)
    db.add(marker)
    return marker


def delete_marker(db: Session, *, marker_id: int) -> bool:
    return bool(db.execute(delete(Marker).where(Marker.id == marker_id)).rowcount)


# --- reviews ----------------------------------------------------------------------------------------------

REVIEW_MIN_IOU = 0.5


def review_face(db: Session, *, detection_id: int, label: str, reviewer: str) -> FaceReview:
    """Set the true expression of a face (the caller commits); a face has one review, the latest. ValueError,
    in words, for an unknown face or label, or no reviewer's name."""
    if label not in REVIEW_LABELS:
        raise ValueError(f"a review is one of {', '.join(REVIEW_LABELS)}; received {label!r}")
    reviewer = (clean_text(reviewer) or "").strip()[:200]
    if not reviewer:
        raise ValueError("a review needs the reviewer's name")
    det = db.get(FaceDetection, detection_id)
    if det is None:
        raise ValueError(f"no face {detection_id}")
    review = db.scalar(select(FaceReview).where(FaceReview.detection_id == detection_id))
    if review is None:
        review = FaceReview(
            media_id=det.media_id,
            session_id=det.session_id,
            detection_id=det.id,
            t_s=det.t_s,
            x=det.x,
            y=det.y,
            w=det.w,
            h=det.h,
            label=label,
            reviewer=reviewer,
        )
        db.add(review)
    else:
        review.label, review.reviewer, review.reviewed_at = label, reviewer, utcnow()
    return review


def rematch_reviews(db: Session, *, media_id: int, tolerance_s: float) -> int:
    """After a file is analysed again, attach each review to the new face at the same place: time within
    ``tolerance_s`` (half a sampling interval) and box overlap at least 0.5 (the caller commits). Returns the
    reviews attached; the others are kept, unattached."""
    reviews = list(db.scalars(select(FaceReview).where(FaceReview.media_id == media_id)))
    if not reviews:
        return 0
    D = FaceDetection
    faces = db.execute(select(D.id, D.t_s, D.x, D.y, D.w, D.h).where(D.media_id == media_id)).all()
    for r in reviews:
        r.detection_id = None
    db.flush()
    taken, attached = set(), 0
    for r in reviews:
        best, best_iou = None, REVIEW_MIN_IOU
        for f in faces:
            if f.id in taken or abs(f.t_s - r.t_s) > tolerance_s + 1e-9:
                continue
            iou = box_iou((r.x, r.y, r.w, r.h), (f.x, f.y, f.w, f.h))
            if iou >= best_iou:
                best, best_iou = f.id, iou
        if best is not None:
            r.detection_id, attached = best, attached + 1
            taken.add(best)
    return attached


# --- adapted versions ---------------------------------------------------------------------------------------


def save_adapted(db: Session, card: dict) -> None:
    """Keep an adapted version's card (the caller commits)."""
    db.add(AdaptedVersion(version=card["version"], tag=card["tag"], method=card["method"], card=card))


def choose_adapted(db: Session, *, tag: str, version: str | None) -> None:
    """Let ``version`` analyse the sessions tagged ``tag`` from now on, or, with None, the original models
    (the caller commits). ValueError for a version of another tag or none at all."""
    db.execute(delete(TagAdaptation).where(TagAdaptation.tag == tag))
    if version is None:
        return
    found = db.get(AdaptedVersion, version)
    if found is None or found.tag != tag:
        raise ValueError(f"no adapted version {version!r} for the tag {tag!r}")
    position = (db.scalar(select(func.max(TagAdaptation.position))) or 0) + 1
    db.add(TagAdaptation(tag=tag, version=version, position=position))


def adapted_for_session(db: Session | Connection, *, session_id: int) -> dict | None:
    """The card of the adapted version that analyses this session: the one chosen for its tag that was
    chosen first, if any."""
    row = db.execute(
        select(AdaptedVersion.card)
        .join(TagAdaptation, TagAdaptation.version == AdaptedVersion.version)
        .join(SessionTag, SessionTag.tag == TagAdaptation.tag)
        .where(SessionTag.session_id == session_id)
        .order_by(TagAdaptation.position)
        .limit(1)
    ).first()
    return row[0] if row else None

"""Writing and reading sessions, media and results. Functions take the SQLAlchemy session they work in."""

from __future__ import annotations

import time
import unicodedata
from datetime import datetime
from itertools import combinations
from pathlib import Path

from sqlalchemy import Connection, and_, case, delete, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, aliased

from fer_core.constants import EMOTIONS, MODEL_NAMES
from fer_core.storage.db import floor_int
from fer_core.storage.orm import (
    CONFIDENCE_BINS,
    AnalysisJob,
    AnalysisRun,
    FaceDetection,
    FeedbackSession,
    MediaConfidenceBin,
    MediaEmotionSummary,
    MediaFile,
    MediaLabelPair,
    MediaPerson,
    Prediction,
    SessionTag,
    utcnow,
)


def clean_text(text: str | None, *, lines: bool = False) -> str | None:
    """User text as it may be stored: control characters (a NUL, which PostgreSQL refuses, escape codes) are
    dropped, newlines and tabs kept where ``lines`` (notes); None stays None."""
    if text is None:
        return None
    keep = "\n\t" if lines else ""
    return "".join(c for c in str(text) if c in keep or unicodedata.category(c) != "Cc")


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
    for table in (MediaEmotionSummary, MediaLabelPair, MediaConfidenceBin, MediaPerson):
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

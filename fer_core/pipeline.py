"""One file to stored rows: analyse it and store every result in one transaction; knows nothing of jobs.

Why one transaction per file: a file's media row, detections, predictions and
job state appear together or not at all, so an ingest killed mid-file leaves nothing
half-written, and running it again redoes exactly the files that are missing.
A file already stored in the session (same sha256) is skipped; a file that
failed before is tried again.  One bad file never stops the others.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from fer_core.adapt import adapted_versions, apply_card, heads_of, usable
from fer_core.analyzer import AnalysisResult, Analyzer
from fer_core.constants import Keep, Outcome
from fer_core.models.registry import WeightsError
from fer_core.storage.db import session_factory
from fer_core.storage.orm import FaceDetection, FeedbackSession, MediaFile
from fer_core.storage.repository import (
    adapted_for_session,
    add_marker,
    find_media,
    finish_run,
    people_of,
    rematch_people,
    rematch_reviews,
    save_faces,
)
from fer_core.storage.repository import start_run as repo_start_run
from fer_core.storage.store import MediaStore, face_key, store_for
from fer_core.vision.media import MediaError

ProgressFn = Callable[[float, str], None]


def face_path(media_root: Path, session_id: int, detection_id: int) -> Path:
    """Where the small JPEG of one face is kept in a folder store, for sessions that keep faces only."""
    return Path(media_root) / face_key(session_id, detection_id)


@dataclass
class FileOutcome:
    file: str
    status: str  # done | failed | skipped
    faces: int = 0  # face readings: one per face per sampled frame
    people: int = 0  # people seen: face tracks in a video, faces in a photo
    error: str | None = None
    media_id: int | None = None
    note: str | None = None  # e.g. why no face was found, and what to try


@dataclass
class IngestSummary:
    session_id: int
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.status != Outcome.FAILED for f in self.files)

    def to_dict(self) -> dict:
        return {
            "session_id": self.session_id,
            "files": [
                {k: v for k, v in asdict(f).items() if k != "media_id" and (k != "note" or v)} for f in self.files
            ],
        }


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def start_run(db, session_id: int, analyzer: Analyzer, **extra):
    """Record an analysis run (models and versions, detector, settings); returns it and the version per model."""
    cfg = analyzer.config
    versions = {m: v["version"] for m, v in analyzer.model_info().items()}
    run = repo_start_run(
        db,
        session_id=session_id,
        models=versions,
        detector=analyzer.detector().name,
        fps=cfg.fps,
        settings={
            "min_face_px": cfg.min_face_px,
            "det_min_score": cfg.det_min_score,
            "max_views_photo": cfg.max_views_photo,
            "max_views_video": cfg.max_views_video,
            "engine": analyzer.engine(),
            "adapted_version": (usable(adapted_for_session(db, session_id=session_id), versions) or {}).get("version"),
            **extra,
        },
    )
    db.commit()
    versions["ensemble"] = "+".join(f"{m}:{v}" for m, v in versions.items())
    return run, versions


FinishFn = Callable[[Session, FileOutcome], None]


def analyse_and_store(
    db: Session,
    path: Path,
    name: str,
    *,
    session_id: int,
    run_id: int,
    analyzer: Analyzer,
    versions: dict[str, str],
    keep: str,
    store: MediaStore,
    source: str | None,
    sha: str,
    size: int,
    step: ProgressFn,
    finish: FinishFn | None = None,
) -> FileOutcome:
    """Analyse one file and store its rows in one transaction (``finish`` runs inside it, before the commit).

    ``source`` is where the file already is in the media store; with keep="media" it
    becomes the media's stored file.  A file this session already has is skipped.
    """

    def commit(outcome: FileOutcome) -> FileOutcome:
        if finish:
            finish(db, outcome)
        db.commit()
        return outcome

    limit = analyzer.config.max_upload_bytes
    if size > limit:
        return _record_failure(
            db,
            name,
            session_id,
            run_id,
            sha,
            size,
            commit,
            f"{name}: the file is {size / 1e6:.3g} MB, over the upload limit of {limit / 1e6:.3g} MB",
        )
    existing = find_media(db, session_id=session_id, sha256=sha)
    if existing is not None and existing.status == Outcome.DONE:
        return commit(
            FileOutcome(
                name,
                Outcome.SKIPPED,
                faces=_faces_of(db, existing.id),
                people=people_of(db, media_id=existing.id),
                media_id=existing.id,
            )
        )
    card = usable(adapted_for_session(db, session_id=session_id), versions)  # a population's version, if chosen
    db.rollback()  # no transaction stays open while analysing (SQLite: other writers must not wait)
    try:
        result = analyzer.analyze_file(  # messages name the file as the user knows it, not the stored copy
            path,
            on_progress=lambda f, m: step(0.95 * f, m.replace(path.name, name)),
            thumbnails=keep == Keep.FACES,
            heads=heads_of(card),
        )
    except MediaError as exc:  # messages name the file: the user's name, not the stored copy's
        return _record_failure(db, name, session_id, run_id, sha, size, commit, str(exc).replace(path.name, name))
    except WeightsError:
        raise
    except Exception as exc:  # never let one file stop the others
        return _record_failure(
            db,
            name,
            session_id,
            run_id,
            sha,
            size,
            commit,
            f"{name}: unexpected error while analysing ({type(exc).__name__}: {exc})".replace(path.name, name),
        )

    stored = source if keep == Keep.MEDIA else None
    if keep == Keep.MEDIA and stored is None:
        stored = store.put_file(media_key(session_id, sha, path.suffix), path)
    written: list[str] = []
    try:
        _drop_failed(db, session_id, sha)  # failed earlier: this try replaces it
        media, faces = _save_result(
            db,
            result,
            name=name,
            session_id=session_id,
            run_id=run_id,
            sha=sha,
            size=size,
            stored=stored,
            card=card,
            versions=versions,
            store=store,
            written=written,
        )
        outcome = commit(
            FileOutcome(
                name,
                Outcome.DONE,
                faces=faces,
                people=people_of(db, media_id=media.id),
                media_id=media.id,
                note=result.no_face,
            )
        )  # all rows at once
    except Exception:
        db.rollback()
        for location in written:
            store.delete(location)
        raise
    for warning in result.warnings[:3]:
        step(1.0, f"warning: {warning}")
    return outcome


def store_live(
    db: Session,
    result: AnalysisResult,
    *,
    identity: str,
    session_id: int,
    run_id: int,
    versions: dict[str, str],
    card: dict | None,
    keep: str,
    store: MediaStore,
    video_file: Path | None,
    markers: list[tuple[float, str]],
) -> FileOutcome:
    """A live recording's readings, markers and (with keep="media") video as one media file, in one
    transaction: ``identity`` stands in for the hash of file bytes it does not have."""
    written: list[str] = []
    stored = None
    if keep == Keep.MEDIA and video_file is not None and video_file.exists():
        stored = store.put_file(media_key(session_id, identity, ".mp4"), video_file)
        written.append(stored)
    try:
        media, faces = _save_result(
            db,
            result,
            name=result.file,
            session_id=session_id,
            run_id=run_id,
            sha=identity,
            size=video_file.stat().st_size if stored else 0,
            stored=stored,
            card=card,
            versions=versions,
            store=store,
            written=written,
        )
        for t_s, label in markers:  # a moment marked as the run stopped is inside it
            add_marker(db, media_id=media.id, start_s=min(t_s, result.duration_s or 0.0), end_s=None, label=label)
        db.commit()
    except Exception:
        db.rollback()
        for location in written:
            store.delete(location)
        raise
    return FileOutcome(
        result.file, Outcome.DONE, faces=faces, people=people_of(db, media_id=media.id), media_id=media.id
    )


def _save_result(
    db: Session,
    result: AnalysisResult,
    *,
    name: str,
    session_id: int,
    run_id: int,
    sha: str,
    size: int,
    stored: str | None,
    card: dict | None,
    versions: dict[str, str],
    store: MediaStore,
    written: list[str],
) -> tuple[MediaFile, int]:
    """The media row, its faces and their kept pictures (their locations added to ``written``); the caller
    commits. Returns the row and the number of readings stored."""
    media = MediaFile(
        session_id=session_id,
        run_id=run_id,
        original_name=name,
        kind=result.kind,
        sha256=sha,
        bytes=size,
        width=result.width,
        height=result.height,
        fps=result.fps,
        duration_s=result.duration_s,
        frames_analyzed=result.frames_analyzed,
        stored_path=stored,
        status=Outcome.DONE,
        error=result.no_face,  # the files table's "problem": why no face was found, and what to try
    )
    db.add(media)
    db.flush()
    faces = apply_card(card, result.faces) if card else result.faces
    ids = save_faces(db, media=media, run_id=run_id, faces=faces, versions=adapted_versions(versions, card))
    for det_id, jpeg in zip(ids, result.thumbnails):
        written.append(store.put_bytes(face_key(session_id, det_id), jpeg))
    return media, len(ids)


def media_key(session_id: int, sha: str, suffix: str) -> str:
    """Key of a session's file in the media store: by content, so the same file is stored once per session."""
    return f"{session_id}/{sha}{suffix.lower()}"


def _drop_failed(db, session_id: int, sha: str | None) -> None:
    if sha is not None:
        db.execute(
            delete(MediaFile).where(
                MediaFile.session_id == session_id, MediaFile.sha256 == sha, MediaFile.status == Outcome.FAILED
            )
        )


def _record_failure(db, name, session_id, run_id, sha, size, commit, error) -> FileOutcome:
    _drop_failed(db, session_id, sha)
    media = MediaFile(
        session_id=session_id,
        run_id=run_id,
        original_name=name,
        kind="unknown",
        sha256=sha,
        bytes=size,
        status=Outcome.FAILED,
        error=error,
    )
    db.add(media)
    db.flush()
    return commit(FileOutcome(name, Outcome.FAILED, error=error, media_id=media.id))


def _faces_of(db, media_id: int) -> int:
    return int(db.scalar(select(func.count()).select_from(FaceDetection).where(FaceDetection.media_id == media_id)))


class SessionGone(LookupError):
    """The session was deleted (in another tab, by another user) while it was being analysed again."""

    def __init__(self):
        super().__init__(
            "This session was deleted meanwhile (in another tab, or by a colleague), so its analysis stopped; "
            "nothing of it is left."
        )


def reanalyse_session(
    session_id: int, *, engine: Engine, analyzer: Analyzer, on_progress: ProgressFn | None = None
) -> IngestSummary:
    """Analyse a session's stored media again (e.g. with other settings), replacing each file's results
    in one transaction per file. Files whose media was not kept are reported as failed with the reason.
    :class:`SessionGone` when the session is deleted meanwhile."""
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

    make = session_factory(engine)
    analyzer.load_models()
    summary = IngestSummary(session_id=session_id)
    with make() as db:
        try:
            _reanalyse(db, session_id, analyzer, summary, on_progress)
        except (StaleDataError, ObjectDeletedError, IntegrityError) as exc:
            db.rollback()
            if db.get(FeedbackSession, session_id) is not None:
                raise
            raise SessionGone() from exc
    return summary


def _reanalyse(db, session_id: int, analyzer: Analyzer, summary: IngestSummary, on_progress) -> None:
    from fer_core.storage.orm import Prediction

    if db.get(FeedbackSession, session_id) is None:
        raise SessionGone()
    run, versions = start_run(db, session_id, analyzer, reanalysis=True)
    media = db.scalars(
        select(MediaFile)
        .where(MediaFile.session_id == session_id, MediaFile.status == Outcome.DONE)
        .order_by(MediaFile.id)
    ).all()
    for i, m in enumerate(media):

        def step(fraction: float, message: str, i=i, name=m.original_name) -> None:
            if on_progress:
                on_progress((i + fraction) / max(len(media), 1), f"({i + 1}/{len(media)}) {name}: {message}")

        if not m.stored_path or not store_for(m.stored_path).exists(m.stored_path):
            summary.files.append(
                FileOutcome(
                    m.original_name,
                    Outcome.FAILED,
                    media_id=m.id,
                    error=f"{m.original_name}: the file was not kept, so it cannot be analysed again",
                )
            )
            continue
        card = usable(adapted_for_session(db, session_id=session_id), versions)
        try:
            with store_for(m.stored_path).local_file(m.stored_path) as local:
                result = analyzer.analyze_file(
                    local, on_progress=lambda f, msg: step(0.95 * f, msg), heads=heads_of(card)
                )
        except MediaError as exc:
            summary.files.append(FileOutcome(m.original_name, Outcome.FAILED, error=str(exc), media_id=m.id))
            continue
        old = select(FaceDetection.id).where(FaceDetection.media_id == m.id)
        db.execute(delete(Prediction).where(Prediction.detection_id.in_(old)))
        db.execute(delete(FaceDetection).where(FaceDetection.media_id == m.id))
        m.run_id, m.frames_analyzed = run.id, result.frames_analyzed
        faces = apply_card(card, result.faces) if card else result.faces
        ids = save_faces(db, media=m, run_id=run.id, faces=faces, versions=adapted_versions(versions, card))
        rematch_people(db, media_id=m.id)  # people's names follow them to their new tracks
        rematch_reviews(db, media_id=m.id, tolerance_s=0.5 / analyzer.config.fps)
        db.commit()  # the file's old results are replaced all at once
        summary.files.append(
            FileOutcome(
                m.original_name, Outcome.DONE, faces=len(ids), people=people_of(db, media_id=m.id), media_id=m.id
            )
        )
        step(1.0, "done")
    finish_run(db, run)

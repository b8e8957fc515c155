"""Ingest: analyse files into a session and store every result, one transaction per file.

Why one transaction per file: a file's media row, detections and predictions
appear together or not at all, so an ingest killed mid-file leaves nothing
half-written, and running it again redoes exactly the files that are missing.
A file already stored in the session (same sha256) is skipped; a file that
failed before is tried again.  One bad file never stops the others.
"""
from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, delete, func, select

from .analyzer import Analyzer
from .db import data_home, session_factory
from .media import MediaError
from .orm import FaceDetection, MediaFile
from .registry import WeightsError
from .repository import find_media, finish_run, get_or_create_session, save_faces, start_run

ProgressFn = Callable[[float, str], None]
KEEP_CHOICES = ("media", "faces", "none")


def face_path(media_root: Path, session_id: int, detection_id: int) -> Path:
    """Where the small JPEG of one face is kept, for sessions that keep faces instead of media."""
    return Path(media_root) / str(session_id) / "faces" / f"{detection_id}.jpg"


@dataclass
class FileOutcome:
    file: str
    status: str  # done | failed | skipped
    faces: int = 0
    error: str | None = None
    media_id: int | None = None


@dataclass
class IngestSummary:
    session_id: int
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.status != "failed" for f in self.files)

    def to_dict(self) -> dict:
        return {"session_id": self.session_id,
                "files": [{k: v for k, v in asdict(f).items() if k != "media_id"} for f in self.files]}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ingest(files: list[str | Path], *, engine: Engine, analyzer: Analyzer, session_name: str,
           recorded_at: datetime | None = None, participant: str | None = None, tags: list[str] = (),
           notes: str | None = None, consent: bool = False, keep: str = "media",
           media_root: Path | None = None, display_names: list[str] | None = None,
           on_progress: ProgressFn | None = None) -> IngestSummary:
    """Analyse ``files`` into the session ``session_name`` (created if new) and store the results.

    ``keep`` says what is stored besides the results: "media" (a copy of each file:
    thumbnails and re-analysis work), "faces" (a small JPEG of each face only) or
    "none".  ``display_names`` gives the names users know the files by (an upload's
    original name) when ``files`` are temporary copies.  ``on_progress(fraction,
    message)`` reports overall progress.
    """
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {KEEP_CHOICES}; received {keep!r}")
    media_root = media_root or data_home() / "media"
    names = display_names or [Path(f).name for f in files]
    make = session_factory(engine)
    analyzer.load_models()  # missing weights: fail before touching the database
    with make() as db:
        fs = get_or_create_session(db, name=session_name, recorded_at=recorded_at, participant=participant,
                                   tags=list(tags), notes=notes, consent=consent)
        run, versions = _start_run(db, fs.id, analyzer)
        summary = IngestSummary(session_id=fs.id)

        n = len(files)
        for i, (path, name) in enumerate(zip(map(Path, files), names)):
            def step(fraction: float, message: str, i=i, name=name) -> None:
                if on_progress:
                    on_progress((i + fraction) / n, f"({i + 1}/{n}) {name}: {message}")

            outcome = _ingest_one(db, path, name, session_id=fs.id, run_id=run.id, analyzer=analyzer,
                                  versions=versions, keep=keep, media_root=media_root, step=step)
            summary.files.append(outcome)
            step(1.0, outcome.status if outcome.status != "failed" else f"failed: {outcome.error}")
        finish_run(db, run)
    return summary


def _start_run(db, session_id: int, analyzer: Analyzer, **extra):
    """Record an analysis run (models and versions, detector, settings); returns it and the version per model."""
    cfg = analyzer.config
    versions = {m: v["version"] for m, v in analyzer.model_info().items()}
    run = start_run(db, session_id=session_id, models=versions, detector=analyzer.detector().name, fps=cfg.fps,
                    settings={"min_face_px": cfg.min_face_px, "det_min_score": cfg.det_min_score,
                              "max_views_photo": cfg.max_views_photo, "max_views_video": cfg.max_views_video,
                              **extra})
    db.commit()
    versions["ensemble"] = "+".join(f"{m}:{v}" for m, v in versions.items())
    return run, versions


def _ingest_one(db, path: Path, name: str, *, session_id: int, run_id: int, analyzer: Analyzer,
                versions: dict[str, str], keep: str, media_root: Path, step: ProgressFn) -> FileOutcome:
    try:
        size = path.stat().st_size
        sha = file_sha256(path)
    except OSError as exc:
        return _record_failure(db, name, session_id, run_id, None, 0, f"{name}: cannot read the file ({exc})")
    limit = analyzer.config.max_upload_bytes
    if size > limit:
        return _record_failure(db, name, session_id, run_id, sha, size,
                               f"{name}: the file is {size / 1e6:.3g} MB, over the upload limit of {limit / 1e6:.3g} MB")
    existing = find_media(db, session_id=session_id, sha256=sha)
    if existing is not None and existing.status == "done":
        return FileOutcome(name, "skipped", faces=_faces_of(db, existing.id), error=None, media_id=existing.id)
    if existing is not None:  # failed earlier: try again from scratch
        db.execute(delete(MediaFile).where(MediaFile.id == existing.id))
        db.commit()
    try:
        result = analyzer.analyze_file(path, on_progress=lambda f, m: step(0.95 * f, m),
                                       thumbnails=keep == "faces")
    except MediaError as exc:
        return _record_failure(db, name, session_id, run_id, sha, size, str(exc))
    except WeightsError:
        raise
    except Exception as exc:  # never let one file stop the others
        return _record_failure(db, name, session_id, run_id, sha, size,
                               f"{name}: unexpected error while analysing ({type(exc).__name__}: {exc})")

    stored, written = None, []
    if keep == "media":
        stored = media_root / str(session_id) / f"{sha}{path.suffix.lower()}"
        stored.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, stored)
        written.append(stored)
    try:
        media = MediaFile(session_id=session_id, run_id=run_id, original_name=name, kind=result.kind, sha256=sha,
                          bytes=size, width=result.width, height=result.height, fps=result.fps,
                          duration_s=result.duration_s, frames_analyzed=result.frames_analyzed,
                          stored_path=str(stored) if stored else None, status="done")
        db.add(media)
        db.flush()
        ids = save_faces(db, media=media, run_id=run_id, faces=result.faces, versions=versions)
        for det_id, jpeg in zip(ids, result.thumbnails):
            target = face_path(media_root, session_id, det_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(jpeg)
            written.append(target)
        db.commit()  # the file's rows become visible all at once
    except Exception:
        db.rollback()
        for f in written:
            f.unlink(missing_ok=True)
        raise
    for warning in result.warnings[:3]:
        step(1.0, f"warning: {warning}")
    return FileOutcome(name, "done", faces=len(ids), media_id=media.id)


def _record_failure(db, name, session_id, run_id, sha, size, error) -> FileOutcome:
    media = MediaFile(session_id=session_id, run_id=run_id, original_name=name, kind="unknown",
                      sha256=sha, bytes=size, status="failed",
                      error=error)
    db.add(media)
    db.commit()
    return FileOutcome(name, "failed", error=error, media_id=media.id)


def _faces_of(db, media_id: int) -> int:
    return int(db.scalar(select(func.count()).select_from(FaceDetection).where(FaceDetection.media_id == media_id)))


def reanalyse_session(session_id: int, *, engine: Engine, analyzer: Analyzer,
                      on_progress: ProgressFn | None = None) -> IngestSummary:
    """Analyse a session's stored media again (e.g. with other settings), replacing each file's results
    in one transaction per file. Files whose media was not kept are reported as failed with the reason."""
    from .orm import Prediction

    make = session_factory(engine)
    analyzer.load_models()
    summary = IngestSummary(session_id=session_id)
    with make() as db:
        run, versions = _start_run(db, session_id, analyzer, reanalysis=True)
        media = db.scalars(select(MediaFile).where(MediaFile.session_id == session_id, MediaFile.status == "done")
                           .order_by(MediaFile.id)).all()
        for i, m in enumerate(media):
            def step(fraction: float, message: str, i=i, name=m.original_name) -> None:
                if on_progress:
                    on_progress((i + fraction) / max(len(media), 1), f"({i + 1}/{len(media)}) {name}: {message}")

            if not m.stored_path or not Path(m.stored_path).is_file():
                summary.files.append(FileOutcome(m.original_name, "failed", media_id=m.id,
                                                 error=f"{m.original_name}: the file was not kept, so it cannot be "
                                                       "analysed again"))
                continue
            try:
                result = analyzer.analyze_file(m.stored_path, on_progress=lambda f, msg: step(0.95 * f, msg))
            except MediaError as exc:
                summary.files.append(FileOutcome(m.original_name, "failed", error=str(exc), media_id=m.id))
                continue
            old = select(FaceDetection.id).where(FaceDetection.media_id == m.id)
            db.execute(delete(Prediction).where(Prediction.detection_id.in_(old)))
            db.execute(delete(FaceDetection).where(FaceDetection.media_id == m.id))
            m.run_id, m.frames_analyzed = run.id, result.frames_analyzed
            ids = save_faces(db, media=m, run_id=run.id, faces=result.faces, versions=versions)
            db.commit()  # the file's old results are replaced all at once
            summary.files.append(FileOutcome(m.original_name, "done", faces=len(ids), media_id=m.id))
            step(1.0, "done")
        finish_run(db, run)
    return summary

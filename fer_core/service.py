"""The one door for the dashboard and the CLI: analyse files (here, on this process's runner, or on queue
workers), analyse a session again, edit and delete sessions.  It sits above ``jobs`` (job rows and running
one), ``worker`` (the Celery side) and ``storage``, so calls go one way.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from fer_core import jobs, live, pipeline, settings
from fer_core.adapt import heads_of, usable
from fer_core.analyzer import Analyzer
from fer_core.constants import KEEP_CHOICES, Keep, Outcome
from fer_core.faces import face_picture, reviewed_crops  # noqa: F401 (the pages call them here)
from fer_core.pipeline import FileOutcome, IngestSummary, ProgressFn, SessionGone  # noqa: F401 (the pages catch it)
from fer_core.runner import LocalRunner
from fer_core.statistics.groups import (  # noqa: F401 (the pages, the CLI and the report call them here)
    compare_groups,
    compare_states,
    correction_available,
    distribution,
    over_time,
    session_summary,
    with_states,
)
from fer_core.storage import repository
from fer_core.storage.db import session_factory
from fer_core.storage.store import MediaStore, forget_playable, media_store, playable_dir  # noqa: F401
from fer_core.trust import access, audit
from fer_core.trust.access import NotAllowed  # noqa: F401 (the pages and the CLI catch it)


def ingest(
    files: list[str | Path],
    *,
    engine: Engine,
    analyzer: Analyzer,
    session_name: str,
    recorded_at: datetime | None = None,
    participant: str | None = None,
    tags: list[str] = (),
    notes: str | None = None,
    consent: bool = False,
    keep: str = Keep.MEDIA,
    media_root: Path | None = None,
    store: MediaStore | None = None,
    display_names: list[str] | None = None,
    on_progress: ProgressFn | None = None,
) -> IngestSummary:
    """Analyse ``files`` into the session ``session_name`` (created if new) and store the results, here and now.

    Each file becomes a job (``fer_core.jobs``) that this process runs at once, so
    the dashboard's job list shows in-process work too.  ``keep`` says what is
    stored besides the results: "media" (the file: thumbnails and re-analysis
    work), "faces" (a small JPEG of each face only) or "none".  Files go to
    ``store`` (default: the folder ``media_root``, else FER_MEDIA_STORE).
    ``display_names`` gives the names users know the files by (an upload's original
    name) when ``files`` are temporary copies.  ``on_progress(fraction, message)``
    reports overall progress.
    """
    access.require("upload")
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {KEEP_CHOICES}; received {keep!r}")
    store = store or media_store(media_root)
    names = [repository.clean_text(n) or "unnamed file" for n in (display_names or [Path(f).name for f in files])]
    analyzer.load_models()  # missing weights: fail before touching the database
    session_id, job_ids = jobs.submit(
        files,
        engine=engine,
        store=store,
        session_name=session_name,
        recorded_at=recorded_at,
        participant=participant,
        tags=tags,
        notes=notes,
        consent=consent,
        keep=keep,
        display_names=names,
    )
    audit.record(engine, "upload", session_id=session_id, detail={"files": names, "keep": keep})
    summary = IngestSummary(session_id=session_id)
    n = len(job_ids)
    for i, (job_id, name) in enumerate(zip(job_ids, names)):

        def step(fraction: float, message: str, i=i, name=name) -> None:
            if on_progress:
                on_progress((i + fraction) / n, f"({i + 1}/{n}) {name}: {message}")

        outcome = jobs.run_job(job_id, engine=engine, analyzer=analyzer, store=store, on_progress=step)
        while outcome is None:  # another worker has this very file: wait for it (or for it to be found dead)
            step(0.0, "being analysed by another worker; waiting")
            time.sleep(2)
            outcome = jobs.run_job(job_id, engine=engine, analyzer=analyzer, store=store, on_progress=step)
        outcome.file = name
        summary.files.append(outcome)
        step(1.0, outcome.status if outcome.status != Outcome.FAILED else f"failed: {outcome.error}")
    return summary


@dataclass
class Started:
    """Files handed over for analysis: their session and jobs, where they run, and why they could not start."""

    session_id: int
    job_ids: list[int]
    on_workers: bool  # True: the queue's workers run them; False: this process's runner
    error: str | None = None  # set when the jobs are stored but could not be started (retry from Jobs)


def start(
    files: list[str | Path],
    *,
    engine: Engine,
    analyzer: Analyzer,
    runner: LocalRunner,
    store: MediaStore | None = None,
    **details,
) -> Started:
    """Store ``files`` as jobs of a session (``details`` as ``jobs.submit`` takes them) and start them on
    the queue's workers, else on ``runner``; follow them with ``jobs.wait``.

    Without a broker, missing weights raise ``WeightsError`` before anything is stored."""
    access.require("upload")
    queue = on_workers()
    if not queue:
        analyzer.load_models()
    session_id, job_ids = jobs.submit(files, engine=engine, store=store, **details)
    names = details.get("display_names") or [Path(f).name for f in files]
    audit.record(engine, "upload", session_id=session_id, detail={"files": list(names), "keep": details.get("keep")})
    try:
        dispatch(job_ids, engine=engine, runner=runner)
    except Exception as exc:  # the jobs are stored: "Retry" on the Jobs page sends them again
        where = "the task queue could not be reached" if queue else "the analysis could not start"
        return Started(session_id, job_ids, queue, error=settings.masked(f"{where} ({exc})"))
    return Started(session_id, job_ids, queue)


def start_live(
    destination: live.LiveDestination, *, engine: Engine, analyzer: Analyzer, fps: float | None = None, **frames
) -> live.LiveRecording:
    """A live run for ``destination``: frames go to its ``offer``; ``save_live`` stores it. Nothing is written
    yet; an existing session's chosen population version (``adapt``) is applied as on its uploads. ``frames``:
    ``LiveRecording``'s ``to_image`` and ``wrap``, for a camera's own frame type.

    ``WeightsError`` when the models' weights are missing; ValueError, in words, for a blank session name."""
    access.require("upload")
    if not (repository.clean_text(destination.session_name) or "").strip():
        raise ValueError("Give the session a name.")
    if destination.keep not in KEEP_CHOICES:
        raise ValueError(f"keep must be one of {KEEP_CHOICES}; received {destination.keep!r}")
    analyzer.load_models()
    card = _population_card(engine, analyzer, destination.session_name)
    return live.LiveRecording(
        analyzer,
        destination,
        fps=fps or settings.current().live_fps,
        card=card,
        heads=heads_of(card),
        journal=settings.current().home / "live",
        **frames,
    )


def save_live(recording: live.LiveRecording, *, engine: Engine, store: MediaStore | None = None) -> FileOutcome | None:
    """Stop ``recording`` and store it as one live recording of its session (created if new), with its
    markers, in one transaction; None when it never received a frame. Safe to call twice (the second call
    returns the first's outcome)."""
    with recording.saving:
        recording.stop()
        if recording.saved is not None or not recording.frames_in:
            return recording.saved
        stats = recording.stats()
        recording.session_id, recording.saved = _store_live(
            engine,
            recording.destination,
            recording.result(),
            analyzer=recording.analyzer,
            identity=recording.identity,
            started_at=recording.started_at,
            card=recording.card,
            video_file=recording.video_file,
            markers=list(recording.markers),
            store=store,
            run_settings={"live_fps": recording.max_fps, "live_stats": {**asdict(stats), "fps": round(stats.fps, 2)}},
        )
        recording.discard()
        audit.record(engine, "live recording", session_id=recording.session_id, detail={"frames": stats.frames_in})
        return recording.saved


def recover_live(engine: Engine, *, analyzer: Analyzer, store: MediaStore | None = None) -> list[FileOutcome]:
    """Store the live runs that a dashboard which died mid-run left in its journals (FER_HOME/live/), each as
    ``save_live`` would have (readings and markers; its video and face pictures were not kept). Runs of a
    dashboard still running are left alone."""
    from fer_core.cleanup import alive

    folder = settings.current().home / "live"
    outcomes = []
    for path in sorted(folder.glob(f"{live.LIVE_PREFIX}*.jsonl")) if folder.is_dir() else []:
        journal = live.read_journal(path)
        if journal.pid == os.getpid() or alive(journal.pid):
            continue
        if journal.result.frames_analyzed:
            _, outcome = _store_live(
                engine,
                # what was kept besides the readings was in the dead process's memory
                replace(journal.destination, keep=Keep.NONE),
                journal.result,
                analyzer=analyzer,
                identity=journal.identity,
                started_at=journal.started_at,
                card=_population_card(engine, analyzer, journal.destination.session_name),
                video_file=None,
                markers=journal.markers,
                store=store,
                run_settings={"live_fps": journal.max_fps, "recovered": True},
            )
            outcomes.append(outcome)
        path.unlink()
    return outcomes


def _store_live(
    engine: Engine,
    d: live.LiveDestination,
    result,
    *,
    analyzer: Analyzer,
    identity: str,
    started_at: datetime,
    card: dict | None,
    video_file: Path | None,
    markers: list[tuple[float, str]],
    store: MediaStore | None,
    run_settings: dict,
) -> tuple[int, FileOutcome]:
    store = store or media_store()
    with session_factory(engine)() as db:
        fs = repository.get_or_create_session(
            db,
            name=d.session_name,
            recorded_at=started_at,
            participant=d.participant,
            tags=d.tags,
            notes=d.notes,
            consent=d.consent,
        )
        run, versions = pipeline.start_run(db, fs.id, analyzer, live=True)
        outcome = pipeline.store_live(
            db,
            result,
            identity=identity,
            session_id=fs.id,
            run_id=run.id,
            versions=versions,
            card=card,
            keep=d.keep,
            store=store,
            video_file=video_file,
            markers=markers,
        )
        run.settings = {**run.settings, **run_settings}  # how well the run kept up, kept with it
        repository.finish_run(db, run)
        return fs.id, outcome


def _population_card(engine: Engine, analyzer: Analyzer, session_name: str) -> dict | None:
    """The population version chosen for an existing session of that name and usable with these models."""
    versions = {m: v["version"] for m, v in analyzer.model_info().items()}
    with session_factory(engine)() as db:
        existing = repository.find_session(db, name=session_name)
        return usable(repository.adapted_for_session(db, session_id=existing.id), versions) if existing else None


def retry(job_ids: list[int], *, engine: Engine, analyzer: Analyzer, runner: LocalRunner) -> list[int]:
    """Queue jobs again and start them as ``start`` does; returns the ids queued again."""
    access.require("analyse")
    if not on_workers():
        analyzer.load_models()
    ids = jobs.retry(job_ids, engine=engine)
    if ids:
        dispatch(ids, engine=engine, runner=runner)
        audit.record(engine, "analyse again", detail={"jobs": ids})
    return ids


def on_workers() -> bool:
    """Whether analysis runs on the task queue's workers (BROKER_URL set) rather than in this process."""
    return bool(jobs.broker_url())


def dispatch(
    job_ids: list[int],
    *,
    engine: Engine,
    analyzer: Analyzer | None = None,
    store: MediaStore | None = None,
    runner: LocalRunner | None = None,
    on_progress: ProgressFn | None = None,
) -> list[FileOutcome] | None:
    """Start jobs: on the queue workers (BROKER_URL set), else on ``runner``'s thread (both return None at
    once: follow them with ``jobs.wait``), else here, returning their outcomes."""
    if jobs.broker_url():
        from fer_core.worker import enqueue  # Celery is imported only where a broker is used

        enqueue(job_ids)
        return None
    if runner is not None:
        runner.submit(job_ids)
        return None
    analyzer = analyzer or Analyzer()
    outcomes = []
    for i, job_id in enumerate(job_ids):

        def step(fraction: float, message: str, i=i) -> None:
            if on_progress:
                on_progress((i + fraction) / len(job_ids), message)

        outcomes.append(jobs.run_job(job_id, engine=engine, analyzer=analyzer, store=store, on_progress=step))
    return outcomes


def reanalyse_session(
    session_id: int, *, engine: Engine, analyzer: Analyzer, on_progress: ProgressFn | None = None
) -> IngestSummary:
    """Analyse a session's stored media again, here (see ``pipeline.reanalyse_session``); ``SessionGone`` when
    the session is deleted meanwhile."""
    access.require("analyse")
    summary = pipeline.reanalyse_session(session_id, engine=engine, analyzer=analyzer, on_progress=on_progress)
    audit.record(engine, "analyse again", session_id=session_id, detail={"files": len(summary.files)})
    return summary


def update_session(
    session_id: int,
    *,
    engine: Engine,
    name: str,
    participant: str | None = None,
    notes: str | None = None,
    consent: bool = False,
    tags: list[str] | tuple[str, ...] = (),
) -> None:
    """Replace a session's details and tags; ValueError (in words for the user) on a blank or taken name."""
    access.require("edit")
    with session_factory(engine)() as db:
        repository.update_session(
            db, session_id=session_id, name=name, participant=participant, notes=notes, consent=consent, tags=tags
        )
    audit.record(engine, "edit session", session_id=session_id)


def delete_session(session_id: int, *, engine: Engine, store: MediaStore | None = None) -> bool:
    """Delete a session, every result of it and its stored files; False if there was no such session."""
    from sqlalchemy import select

    from fer_core.storage.orm import FeedbackSession, MediaFile

    access.require("delete")
    with session_factory(engine)() as db:
        name = db.scalar(select(FeedbackSession.name).where(FeedbackSession.id == session_id))
        shas = set(db.scalars(select(MediaFile.sha256).where(MediaFile.session_id == session_id)))
        gone = repository.delete_session(db, session_id=session_id, store=store)
        still_used = set(db.scalars(select(MediaFile.sha256).where(MediaFile.sha256.in_(shas - {None}))))
    forget_playable(shas - still_used)
    if gone:
        audit.record(engine, "delete session", session_id=session_id, target=name)
    return gone


# --- the study: people's names, markers, summaries and comparisons -------------------------------------------


def name_people(people: list[tuple[int, int]], label: str | None, *, engine: Engine) -> None:
    """Give the people ``(media_id, person)`` one name (merging them into one participant when more than one),
    or remove their names with a blank ``label``; all or nothing."""
    access.require("edit")
    with session_factory(engine)() as db:
        for media_id, person in people:
            repository.name_person(db, media_id=media_id, person=person, label=label)
        db.commit()
    audit.record(engine, "name people", target=label, detail={"people": [list(p) for p in people]})


def set_roles(people: list[tuple[int, int]], role: str | None, *, engine: Engine) -> None:
    """Give the people ``(media_id, person)`` a role (``constants.ROLES``; None: the default the rules give,
    ``statistics.roles``), all or nothing."""
    access.require("edit")
    with session_factory(engine)() as db:
        for media_id, person in people:
            repository.set_role(db, media_id=media_id, person=person, role=role)
        db.commit()
    audit.record(engine, "set roles", target=role or "default", detail={"people": [list(p) for p in people]})


def people_roles(session_id: int, *, engine: Engine) -> list[dict]:
    """Each person seen in a session: {"file", "media_id", "person", "label" (as the pages name them), "name",
    "role", "role_set" (whether a user set it), "readings", "t_first", "t_last"}."""
    from fer_core.statistics import roles, study
    from fer_core.storage import queries

    rows = study.with_participants(roles.with_roles(queries.readings(engine, session_id=session_id)))
    if rows.empty:
        return []
    people = rows.groupby(["media_id", "person"], sort=False).agg(
        file=("file", "first"),
        label=("participant", "first"),
        name=("name", "first"),
        role=("role", "first"),
        role_set=("role_set", "first"),
        readings=("t_s", "size"),
        t_first=("t_s", "min"),
        t_last=("t_s", "max"),
    )
    return [
        {
            "file": r.file,
            "media_id": int(media_id),
            "person": int(person),
            "label": r.label,
            "name": r.name if isinstance(r.name, str) else None,
            "role": r.role,
            "role_set": isinstance(r.role_set, str),
            "readings": int(r.readings),
            "t_first": round(float(r.t_first), 3),
            "t_last": round(float(r.t_last), 3),
        }
        for (media_id, person), r in people.iterrows()
    ]


def add_marker(media_id: int, *, start_s: float, end_s: float | None, label: str, engine: Engine) -> int:
    """A point (``end_s`` None) or a segment on a file's timeline; ValueError, in words, for bad times."""
    access.require("markers")
    with session_factory(engine)() as db:
        marker = repository.add_marker(db, media_id=media_id, start_s=start_s, end_s=end_s, label=label)
        db.commit()
        audit.record(engine, "add marker", session_id=marker.session_id, target=label)
        return marker.id


def delete_marker(marker_id: int, *, engine: Engine) -> bool:
    access.require("markers")
    with session_factory(engine)() as db:
        gone = repository.delete_marker(db, marker_id=marker_id)
        db.commit()
    if gone:
        audit.record(engine, "delete marker", detail={"marker": marker_id})
    return gone


def import_markers(session_id: int, source, *, engine: Engine) -> dict:
    """``markers.import_csv``: the markers of a CSV file (bytes or a path) into the session's files, every good
    row in one transaction; {"imported", "problems"}; ``markers.MarkersFileError`` when refused whole."""
    from fer_core import markers

    access.require("markers")
    result = markers.import_csv(session_id, source, engine=engine)
    audit.record(engine, "import markers", session_id=session_id, detail={"imported": result["imported"]})
    return result


def playable_video(stored_path: str, *, sha256: str | None, store: MediaStore | None = None) -> Path:
    """A local file of a kept video that browsers can play: the stored file itself where it is local and
    playable, else a copy (H.264 where the codec is not playable) cached under FER_HOME/playable."""
    from fer_core.storage.store import store_for
    from fer_core.vision.playback import playable_copy, plays_in_browser

    store = store_for(stored_path, store or media_store())
    local = Path(stored_path)
    if local.is_file() and plays_in_browser(local):
        return local
    key = sha256 or Path(stored_path).stem
    cached = playable_dir() / f"{key}.mp4"
    if cached.is_file():
        return cached
    with store.local_file(stored_path) as path:
        if plays_in_browser(path):
            import shutil

            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, cached)
            return cached
        return playable_copy(path, cached)


def review_faces(reviews: list[tuple[int, str]], *, engine: Engine, reviewer: str | None = None) -> int:
    """Store each (face id, label) review, all or nothing; ValueError, in words, if any is bad. The reviewer is
    the acting account (``reviewer`` names someone else only where no accounts are kept: the shared password
    or the machine's own user)."""
    from sqlalchemy.exc import IntegrityError

    from fer_core.trust import accounts

    actor = access.require("review")
    if reviewer is None or accounts.role_of(engine, actor.name) is not None:
        reviewer = actor.name
    for attempt in range(3):
        try:
            with session_factory(engine)() as db:
                for detection_id, label in reviews:
                    repository.review_face(db, detection_id=int(detection_id), label=label, reviewer=reviewer)
                db.commit()
            audit.record(engine, "review faces", detail={"faces": [int(d) for d, _ in reviews]})
            return len(reviews)
        except IntegrityError:  # another reviewer stored this face's first review meanwhile: ours replaces it
            if attempt == 2:
                raise
    return len(reviews)


def list_faces(*, engine: Engine, session_id: int) -> list[dict]:
    """A session's faces as the review contract prints them: {"face_id", "file", "frame", "t_s", "box",
    "labels": {model: label}, "review": None or the label set}."""
    from fer_core.constants import OPINIONS
    from fer_core.storage import queries

    faces = queries.faces_to_review(engine, session_id=session_id)
    return [
        {
            "face_id": int(r["detection_id"]),
            "file": r["file"],
            "frame": int(r["frame"]),
            "t_s": round(float(r["t_s"]), 3),
            "box": [int(r[c]) for c in ("x", "y", "w", "h")],
            "labels": {m: r[f"label_{m}"] for m in OPINIONS if isinstance(r.get(f"label_{m}"), str)},
            "review": r["review"] if isinstance(r["review"], str) else None,
        }
        for r in faces.to_dict("records")
    ]


def review_accuracy(*, engine: Engine, session_id: int | None = None, tag: str | None = None) -> dict:
    """``review.accuracy`` of the reviewed faces of a session, a tag's sessions, or all."""
    from fer_core import review
    from fer_core.storage import queries

    return review.accuracy(queries.reviewed_faces(engine, session_id=session_id, tag=tag))


def export_reviews(
    *, engine: Engine, session_id: int | None = None, tag: str | None = None, crops: bool = True, store=None
) -> bytes:
    """The reviewed faces as a ZIP: ``reviews.csv`` (face, session, file, time, box, the review, reviewer and
    time, each model's label and confidence) and, where the media or face pictures were kept and ``crops``,
    ``faces/FACE.png``: the 48x48 grayscale crop each model saw, as FER-2013 stores its faces. With
    FER_BLUR_FACES set no crop is exported (they would show the face)."""
    import io
    import zipfile

    import cv2
    from sqlalchemy import select

    from fer_core.config import AnalyzerConfig
    from fer_core.exports import to_csv
    from fer_core.storage import queries
    from fer_core.storage.orm import FaceReview

    access.require("export")
    audit.record(engine, "export reviews", session_id=session_id, target=tag, detail={"crops": crops})
    reviewed = queries.reviewed_faces(engine, session_id=session_id, tag=tag)
    with session_factory(engine)() as db:
        times = dict(db.execute(select(FaceReview.detection_id, FaceReview.reviewed_at)).all())
    reviewed["reviewed_at"] = reviewed["detection_id"].map(times)
    crops = crops and not AnalyzerConfig.from_env().blur_faces
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        found = reviewed_crops(reviewed, store=store) if crops else []
        for d, crop in zip(reviewed["detection_id"], found):
            if crop is not None:  # else nothing was kept of this face: its labels only
                z.writestr(f"faces/{int(d)}.png", cv2.imencode(".png", crop)[1].tobytes())
        names = [f"faces/{int(d)}.png" if c is not None else "" for d, c in zip(reviewed["detection_id"], found)]
        reviewed["crop"] = names if crops else ""
        columns = ["detection_id", "session_id", "file", "t_s", "x", "y", "w", "h", "review", "reviewer", "reviewed_at"]
        columns += [c for c in reviewed.columns if c.startswith(("label_", "confidence_"))] + ["crop"]
        z.writestr("reviews.csv", to_csv(reviewed[columns].rename(columns={"detection_id": "face"})))
    return buf.getvalue()


def adapt(tag: str, *, engine: Engine, method: str = "auto", analyzer: Analyzer | None = None, store=None) -> dict:
    """``population.adapt_tag``: an adapted version for the sessions tagged ``tag``, from their reviewed faces
    ("auto" tries both methods where the faces' pictures are kept and keeps the better)."""
    from fer_core import population

    access.require("adapt")
    card = population.adapt_tag(tag, engine=engine, method=method, analyzer=analyzer, store=store)
    audit.record(engine, "adapt", target=tag, detail={"version": card.get("version")})
    return card


def choose_adapted(tag: str, version: str | None, *, engine: Engine) -> None:
    """From now on, analyse the sessions tagged ``tag`` with the adapted ``version`` (None: the original
    models). Readings already stored keep the version they were made with; analyse a session again to redo
    them."""
    access.require("adapt")
    with session_factory(engine)() as db:
        repository.choose_adapted(db, tag=tag, version=version)
        db.commit()
    audit.record(engine, "choose adapted version", target=tag, detail={"version": version})


def can_see_faces() -> bool:
    """Whether the acting account may see face pictures, photos and videos (``access.can_see_faces``)."""
    return access.can_see_faces()


def erase_participant(label: str, *, engine: Engine, store: MediaStore | None = None) -> dict:
    """``erase.erase_participant``: everything about one participant, everywhere; returns the receipt."""
    from fer_core.trust import erase

    return erase.erase_participant(label, engine=engine, store=store)


def retention_rules(*, engine: Engine) -> list[dict]:
    from fer_core.trust import retention

    return retention.rules(engine)


def set_retention(*, engine: Engine, days: int | None, tag: str | None = None, keep_readings: bool = True) -> None:
    """``retention.set_rule``: the period for a tag's sessions (None: every session); ``days`` None removes it."""
    from fer_core.trust import retention

    retention.set_rule(engine, days=days, tag=tag, keep_readings=keep_readings)


def apply_retention(*, engine: Engine, store: MediaStore | None = None, why: str = "") -> dict:
    """``retention.apply``: delete the stored media, face pictures (and readings, where so set) past their period."""
    from fer_core.trust import retention

    return retention.apply(engine, store=store, why=why)


def erase_person(media_id: int, person: int, *, engine: Engine, store: MediaStore | None = None) -> dict:
    """``erase.erase_person``: one person seen, erased; returns the receipt."""
    from fer_core.trust import erase

    return erase.erase_person(media_id, person, engine=engine, store=store)


def report(session_id: int, *, engine: Engine, fmt: str = "pdf") -> bytes:
    """``report.session_report``, recorded in the audit trail (face pictures left out for a viewer)."""
    from fer_core.report import session_report

    access.require("report")
    data = session_report(engine, session_id, fmt=fmt)
    audit.record(engine, "report", session_id=session_id, detail={"format": fmt})
    return data

"""Analysis jobs: one per uploaded file, run here or by queue workers, with their state in the database.

    session_id, job_ids = submit(files, engine=..., store=..., session_name="Panel A")
    dispatch(job_ids, engine=...)  # BROKER_URL set: to the workers; else: run here, one after another

Life of a job: queued -> running -> done | failed.  A worker *claims* a job with
one conditional UPDATE (queued, or running with a heartbeat older than
``FER_JOB_STALE_S``), which gives it a fresh ``claim_token``.  While it works a
thread refreshes the heartbeat and the progress.  The results and the job's final
state are written in one transaction that only succeeds while the token is
still the worker's: a worker that was killed (the broker hands its message to
another worker, which takes over the stale job) or that lost its job can never
write a second copy of the results.  The media file's (session, sha256)
uniqueness is the last guard against duplicates.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fer_core import settings
from fer_core.analyzer import Analyzer
from fer_core.constants import JobStatus, Keep, Outcome
from fer_core.models.registry import WeightsError
from fer_core.pipeline import (
    FileOutcome,
    analyse_and_store,
    file_sha256,
    find_media,
    media_key,
    start_run,
)
from fer_core.storage.db import session_factory
from fer_core.storage.orm import AnalysisJob, utcnow
from fer_core.storage.repository import clean_text, end_interrupted_runs, finish_run, get_or_create_session
from fer_core.storage.store import MediaStore, StoreFull, media_store, store_for

ProgressFn = Callable[[float, str], None]
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


def stale_after_s() -> float:
    """A running job whose heartbeat is older than this is taken to be orphaned (its worker died)."""
    return settings.current().job_stale_s


def heartbeat_every_s() -> float:
    return settings.current().job_heartbeat_s


def broker_url() -> str | None:
    """The task-queue broker (e.g. redis://host:6379/0); None means: run jobs in-process."""
    return settings.current().broker_url


def worker_name(label: str | None = None) -> str:
    """``[label@]host:pid``: who has a job, and enough to tell whether it is still alive."""
    return f"{label + '@' if label else ''}{socket.gethostname()}:{os.getpid()}"


def _dead_here(worker: str | None) -> bool:
    """True if ``worker`` ran on this machine and its process is gone: its job is orphaned, no need to wait."""
    if not worker or ":" not in worker:
        return False
    host, _, pid = worker.rsplit("@", 1)[-1].rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _orphaned():
    """SQL condition: running, but its worker's heartbeat is older than FER_JOB_STALE_S (the worker died)."""
    stale = utcnow() - timedelta(seconds=stale_after_s())
    return and_(
        AnalysisJob.status == JobStatus.RUNNING,
        or_(AnalysisJob.heartbeat_at.is_(None), AnalysisJob.heartbeat_at < stale),
    )


class LostClaim(RuntimeError):
    """Another worker took this job over: nothing of ours may be written."""


# ----------------------------------------------------------------------------- submit
def submit(
    files: list[str | Path],
    *,
    engine: Engine,
    store: MediaStore | None = None,
    session_name: str,
    recorded_at: datetime | None = None,
    participant: str | None = None,
    tags: list[str] = (),
    notes: str | None = None,
    consent: bool = False,
    keep: str = "media",
    display_names: list[str] | None = None,
) -> tuple[int, list[int]]:
    """Copy each file into the media store and record one queued job for it; returns (session id, job ids).

    Idempotent per file: the same file (name and content) with an unfinished or
    failed job in this session reuses that job (queued again), so submitting twice
    never analyses twice; a file already stored is reported ``skipped`` when run.
    A file that cannot be read gets a failed job with the reason.
    """
    store = store or media_store()
    names = [clean_text(n) or "unnamed file" for n in (display_names or [Path(f).name for f in files])]
    with session_factory(engine)() as db:
        fs = get_or_create_session(
            db,
            name=session_name,
            recorded_at=recorded_at,
            participant=participant,
            tags=list(tags),
            notes=notes,
            consent=consent,
        )
        db.commit()
        ids = []

        def failed(name: str, error: str, size: int = 0, sha: str | None = None) -> None:
            job = AnalysisJob(
                session_id=fs.id,
                original_name=name,
                sha256=sha,
                bytes=size,
                keep=keep,
                status=JobStatus.FAILED,
                outcome=Outcome.FAILED,
                error=error,
                finished_at=utcnow(),
            )
            db.add(job)
            db.commit()
            ids.append(job.id)

        for path, name in zip(map(Path, files), names):
            try:
                size, sha = path.stat().st_size, file_sha256(path)
            except OSError as exc:
                failed(name, f"{name}: cannot read the file ({exc})")
                continue
            job = db.scalar(
                select(AnalysisJob)
                .where(
                    AnalysisJob.session_id == fs.id,
                    AnalysisJob.sha256 == sha,
                    AnalysisJob.original_name == name,
                    AnalysisJob.status != JobStatus.DONE,
                )
                .order_by(AnalysisJob.id)
            )
            source = store.location(media_key(fs.id, sha, path.suffix))
            try:
                if not store.exists(source):
                    source = store.put_file(media_key(fs.id, sha, path.suffix), path)
            except StoreFull as exc:  # the next, smaller files may still fit
                failed(name, f"{name}: not stored, {exc.strerror}: free some space, then upload it again", size, sha)
                continue
            if job is None:
                job = AnalysisJob(
                    session_id=fs.id,
                    original_name=name,
                    sha256=sha,
                    bytes=size,
                    keep=keep,
                    source=source,
                    status=JobStatus.QUEUED,
                    progress=0.0,
                    message="queued",
                    attempts=0,
                )
                db.add(job)
            else:
                job.source, job.keep = source, keep
                if job.status == JobStatus.FAILED:
                    _requeue(job)
            db.commit()
            ids.append(job.id)
    return fs.id, ids


def _requeue(job: AnalysisJob) -> None:
    job.status, job.outcome, job.error, job.progress, job.message = JobStatus.QUEUED, None, None, 0.0, "queued again"
    job.claim_token, job.finished_at = None, None


def retry(job_ids: list[int], *, engine: Engine) -> list[int]:
    """Queue failed jobs (and orphaned running ones) again; returns the ids that were queued."""
    done = []
    with session_factory(engine)() as db:
        again = or_(AnalysisJob.status.in_((JobStatus.FAILED, JobStatus.QUEUED)), _orphaned())
        for job in db.scalars(select(AnalysisJob).where(AnalysisJob.id.in_(job_ids), again)):
            if job.source:
                _requeue(job)
                done.append(job.id)
        db.commit()
    return done


# ----------------------------------------------------------------------------- run
class _Heartbeat(threading.Thread):
    """Refreshes the job's heartbeat and progress every few seconds while the worker analyses."""

    def __init__(self, engine: Engine, job_id: int, token: str):
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.engine, self.job_id, self.token = engine, job_id, token
        self.progress, self.message = 0.0, "starting"
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(heartbeat_every_s()):
            try:
                with self.engine.begin() as c:
                    c.execute(
                        update(AnalysisJob)
                        .where(AnalysisJob.id == self.job_id, AnalysisJob.claim_token == self.token)
                        .values(heartbeat_at=utcnow(), progress=round(self.progress, 4), message=self.message[:500])
                    )
            except Exception:  # a missed beat is harmless; the next one retries
                pass


def claim(engine: Engine, job_id: int, worker: str) -> str | None:
    """Take the job if it is queued or orphaned; returns the claim token, or None if it is not ours to take."""
    token, now = uuid.uuid4().hex, utcnow()
    J = AnalysisJob
    claimable = or_(J.status == JobStatus.QUEUED, _orphaned())
    with engine.begin() as c:
        current = c.execute(select(J.status, J.worker, J.claim_token).where(J.id == job_id)).first()
        if current and current.status == JobStatus.RUNNING and _dead_here(current.worker):
            claimable = or_(claimable, and_(J.status == JobStatus.RUNNING, J.claim_token == current.claim_token))
        n = c.execute(
            update(J)
            .where(J.id == job_id, claimable)
            .values(
                status=JobStatus.RUNNING,
                worker=worker[:200],
                attempts=J.attempts + 1,
                claim_token=token,
                started_at=now,
                heartbeat_at=now,
                progress=0.0,
                message="starting",
                error=None,
            )
        ).rowcount
    return token if n == 1 else None


def run_job(
    job_id: int,
    *,
    engine: Engine,
    analyzer: Analyzer,
    store: MediaStore | None = None,
    worker: str | None = None,
    on_progress: ProgressFn | None = None,
) -> FileOutcome | None:
    """Claim and run one job; returns the file's outcome, or None while another live worker has the job.

    A job that is already finished returns its recorded outcome without work (a
    redelivered message).  Raises WeightsError (the worker cannot work at all);
    the job is then marked failed with the reason first.
    """
    worker = worker or worker_name()
    token = claim(engine, job_id, worker)
    make = session_factory(engine)
    with make() as db:
        job = db.get(AnalysisJob, job_id)
        if job is None:
            return FileOutcome(f"job {job_id}", Outcome.FAILED, error=f"job {job_id} no longer exists")
        if token is None:
            if job.status in UNFINISHED:
                return None
            return FileOutcome(
                job.original_name,
                job.outcome or job.status,
                faces=job.faces or 0,
                people=job.people or 0,
                error=job.error,
                media_id=job.media_id,
            )
        beat = _Heartbeat(engine, job_id, token)
        beat.start()

        def step(fraction: float, message: str) -> None:
            beat.progress, beat.message = fraction, message
            if on_progress:
                on_progress(fraction, message)

        def finish(db: Session, outcome: FileOutcome) -> None:
            status = JobStatus.FAILED if outcome.status == Outcome.FAILED else JobStatus.DONE
            n = db.execute(
                update(AnalysisJob)
                .where(AnalysisJob.id == job_id, AnalysisJob.claim_token == token)
                .values(
                    status=status,
                    outcome=outcome.status,
                    error=outcome.error,
                    faces=outcome.faces,
                    people=outcome.people,
                    media_id=outcome.media_id,
                    progress=1.0,
                    message=outcome.status,
                    finished_at=utcnow(),
                    claim_token=None,
                )
            ).rowcount
            if n != 1:
                raise LostClaim(f"job {job_id} was taken over by another worker")

        try:
            return _run_claimed(db, job, engine=engine, analyzer=analyzer, store=store, step=step, finish=finish)
        except LostClaim:
            db.rollback()
            return None
        except WeightsError as exc:
            db.rollback()
            _fail(engine, job_id, token, str(exc))
            raise
        except StoreFull as exc:  # its upload copy stays: "Retry" once there is space
            db.rollback()
            error = f"{job.original_name}: {exc.strerror}: free some space, then retry it"
            _fail(engine, job_id, token, error)
            return FileOutcome(job.original_name, Outcome.FAILED, error=error)
        except Exception as exc:  # e.g. the database went away: record it if we can, never lose the job
            db.rollback()
            error = settings.masked(f"{job.original_name}: {type(exc).__name__}: {exc}")
            _fail(engine, job_id, token, error)
            return FileOutcome(job.original_name, Outcome.FAILED, error=error)
        finally:
            beat.stopped.set()


def _run_claimed(
    db: Session,
    job: AnalysisJob,
    *,
    engine: Engine,
    analyzer: Analyzer,
    store: MediaStore | None,
    step: ProgressFn,
    finish,
) -> FileOutcome:
    name, session_id, keep = job.original_name, job.session_id, job.keep
    if job.sha256 is None or job.source is None:
        outcome = FileOutcome(name, Outcome.FAILED, error=job.error or f"{name}: the uploaded file is not available")
        finish(db, outcome)
        db.commit()
        return outcome
    source_store = store_for(job.source, store)
    existing = find_media(db, session_id=session_id, sha256=job.sha256)
    if existing is not None and existing.status == Outcome.DONE:  # the same bytes, stored under another name
        outcome = FileOutcome(name, Outcome.SKIPPED, media_id=existing.id)
        finish(db, outcome)
        db.commit()
        _release_source(db, job, source_store)
        return outcome
    end_interrupted_runs(db, session_id=session_id, job_id=job.id)  # an earlier claim of this job was killed
    run, versions = start_run(db, session_id, analyzer, job_id=job.id)
    try:
        with source_store.local_file(job.source) as path:
            outcome = analyse_and_store(
                db,
                path,
                name,
                session_id=session_id,
                run_id=run.id,
                analyzer=analyzer,
                versions=versions,
                keep=keep,
                store=source_store,
                source=job.source,
                sha=job.sha256,
                size=job.bytes,
                step=step,
                finish=finish,
            )
    except FileNotFoundError:
        db.rollback()
        outcome = FileOutcome(
            name, Outcome.FAILED, error=f"{name}: the uploaded file is no longer there; upload it again"
        )
        finish(db, outcome)
        db.commit()
    except IntegrityError:  # the same file of this session was stored meanwhile by another job
        db.rollback()
        existing = find_media(db, session_id=session_id, sha256=job.sha256)
        outcome = FileOutcome(name, Outcome.SKIPPED, media_id=existing.id if existing else None)
        finish(db, outcome)
        db.commit()
    finish_run(db, run)
    # A file that failed on its own account (damaged, too long...) would fail again: its copy goes unless the
    # user keeps media. One that failed for another reason (disk, database, worker) raised instead, and keeps
    # its copy for the retry.
    if outcome.status != Outcome.FAILED or keep != Keep.MEDIA:
        _release_source(db, job, source_store)
    return outcome


def _release_source(db: Session, job: AnalysisJob, source_store: MediaStore) -> None:
    """The job no longer needs its upload: delete it unless it is the kept media or another job still
    waits on the same bytes (the same file twice in one upload shares one copy)."""
    media = find_media(db, session_id=job.session_id, sha256=job.sha256)
    waiting = db.scalar(
        select(func.count())
        .select_from(AnalysisJob)
        .where(AnalysisJob.source == job.source, AnalysisJob.id != job.id, AnalysisJob.status.in_(UNFINISHED))
    )
    if not waiting and (media is None or media.stored_path != job.source):
        source_store.delete(job.source)
    db.execute(update(AnalysisJob).where(AnalysisJob.id == job.id).values(source=None))
    db.commit()


def _fail(engine: Engine, job_id: int, token: str, error: str) -> None:
    error = settings.masked(error)
    try:
        with engine.begin() as c:
            c.execute(
                update(AnalysisJob)
                .where(AnalysisJob.id == job_id, AnalysisJob.claim_token == token)
                .values(
                    status=JobStatus.FAILED,
                    outcome=Outcome.FAILED,
                    error=error,
                    finished_at=utcnow(),
                    claim_token=None,
                    message="failed",
                )
            )
    except Exception:
        pass  # the heartbeat stops; the job is taken over as orphaned


# ----------------------------------------------------------------------------- watch
def outcomes(job_ids: list[int], *, engine: Engine) -> list[FileOutcome | None]:
    """Each job's file outcome, or None while it is queued or running."""
    with session_factory(engine)() as db:
        jobs = {j.id: j for j in db.scalars(select(AnalysisJob).where(AnalysisJob.id.in_(job_ids)))}
    out = []
    for i in job_ids:
        j = jobs.get(i)
        if j is None:
            out.append(FileOutcome(f"job {i}", Outcome.FAILED, error=f"job {i} no longer exists"))
        elif j.status in UNFINISHED:
            out.append(None)
        else:
            out.append(
                FileOutcome(
                    j.original_name,
                    j.outcome or j.status,
                    faces=j.faces or 0,
                    people=j.people or 0,
                    error=j.error,
                    media_id=j.media_id,
                )
            )
    return out


def wait(
    job_ids: list[int],
    *,
    engine: Engine,
    on_progress: ProgressFn | None = None,
    poll_s: float = 1.0,
    timeout_s: float | None = None,
) -> list[FileOutcome]:
    """Wait until every job is done or failed (workers run them); reports overall progress."""
    import time

    start = time.monotonic()
    while True:
        with session_factory(engine)() as db:
            rows = db.execute(
                select(
                    AnalysisJob.status,
                    AnalysisJob.progress,
                    AnalysisJob.original_name,
                    AnalysisJob.message,
                    AnalysisJob.worker,
                ).where(AnalysisJob.id.in_(job_ids))
            ).all()
        finished = sum(r.status not in UNFINISHED for r in rows)
        if on_progress:
            running = [r for r in rows if r.status == JobStatus.RUNNING]
            done = sum(1.0 if r.status not in UNFINISHED else r.progress or 0.0 for r in rows)
            msg = (
                "; ".join(f"{r.original_name} on {r.worker}: {r.message}" for r in running[:3])
                or f"{finished}/{len(rows)} files finished, {len(rows) - finished} waiting for a worker"
            )
            on_progress(done / max(len(rows), 1), msg)
        if finished == len(rows):
            return outcomes(job_ids, engine=engine)
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            raise TimeoutError(f"{len(rows) - finished} of {len(rows)} jobs unfinished after {timeout_s:.0f} s")
        time.sleep(poll_s)


def retryable(engine: Engine, *, include_queued: bool = False, busy: set[int] = frozenset()) -> dict[int, str]:
    """Jobs that can be run again, with why: failed, orphaned (their worker stopped answering) and queued
    ones (``include_queued``: with a broker, to send again if it lost its messages; without one, stranded by
    an app that was stopped), except those in ``busy`` (this process's runner has them)."""
    J = AnalysisJob
    wanted = or_(J.status == JobStatus.FAILED, _orphaned())
    if include_queued:
        wanted = or_(wanted, J.status == JobStatus.QUEUED)
    with session_factory(engine)() as db:
        rows = db.scalars(select(J).where(wanted, J.source.is_not(None)).order_by(J.id).limit(500)).all()
    queued = "queued: send to the workers again" if broker_url() else "queued, not started: the app was stopped"
    why = {
        JobStatus.FAILED: lambda j: f"failed: {j.error}",
        JobStatus.RUNNING: lambda j: f"worker {j.worker} stopped answering",
        JobStatus.QUEUED: lambda j: queued,
    }
    return {j.id: f"#{j.id} {j.original_name} ({why[j.status](j)})" for j in rows if j.id not in busy}

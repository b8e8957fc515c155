"""The Celery side of analysis jobs: the app, the one task, and the worker's start-up.

Used only when ``BROKER_URL`` is set (e.g. redis://host:6379/0).  Start a worker
on any machine that reaches the broker, the database (DATABASE_URL) and the media
store (FER_MEDIA_STORE):

    python -m fer_core worker            # = celery -A fer_core.worker:make_app worker --pool=solo ...

Delivery is at least once: the message is acknowledged only after the job's
results are committed (``acks_late``), so a worker killed mid-job leaves its
message to the broker, which hands it to another worker once the visibility
timeout (``FER_JOB_VISIBILITY_S``) has passed.  ``jobs.run_job`` makes the second
delivery safe: it takes over only an orphaned job and writes under a claim token.
"""

from __future__ import annotations

import logging

from celery import Celery, signals

from fer_core import cleanup, jobs, settings

QUEUE = "fer-analysis"
TASK = "fer_core.analyse_job"
log = logging.getLogger(__name__)

_app: Celery | None = None
_state: dict = {}


def make_app() -> Celery:
    """The Celery app for the broker in ``BROKER_URL``, with the analysis task: built on first use, not at
    import, so importing this module reads no settings and connects to nothing."""
    app = Celery("fer_core")
    s = settings.current()
    app.conf.update(
        broker_url=s.broker_url,
        task_default_queue=QUEUE,
        task_acks_late=True,  # acknowledge after the work is stored, not before
        task_reject_on_worker_lost=True,  # a lost worker's message goes back to the queue
        worker_prefetch_multiplier=1,  # a busy worker holds no messages that an idle one could take
        task_ignore_result=True,  # job state lives in our database (analysis_job), not in a result backend
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        broker_transport_options={
            # how long a delivered, unacknowledged message waits before another worker gets it
            "visibility_timeout": s.job_visibility_s,
            "unacked_restore_interval": s.job_restore_every_s,
            "unacked_restore_throttle": 1,
        },
    )
    app.task(bind=True, name=TASK, max_retries=None)(analyse_job)
    return app


def app() -> Celery:
    """The app for the current BROKER_URL (built again if it changed: a process must never send jobs to a
    broker it was configured with earlier)."""
    global _app
    if _app is None or _app.conf.broker_url != settings.current().broker_url:
        _app = make_app()
    return _app


def _resources():
    """The worker's engine, analyzer (models loaded once per process) and media store."""
    if not _state:
        from fer_core.analyzer import Analyzer
        from fer_core.config import AnalyzerConfig
        from fer_core.storage.db import make_engine, upgrade
        from fer_core.storage.store import media_store

        engine = make_engine()
        upgrade(engine)
        analyzer = Analyzer(AnalyzerConfig.from_env())
        analyzer.load_models()
        _state.update(engine=engine, analyzer=analyzer, store=media_store())
    return _state


@signals.worker_ready.connect
def _load_models_before_the_first_job(**_):
    r = _resources()
    log.info("models loaded; waiting for jobs")
    try:
        removed = cleanup.sweep(r["engine"], r["store"])  # what a killed worker left on this machine
        if any(removed.values()):
            log.info("removed what an earlier run left: %s", removed)
    except Exception:
        log.exception("could not clean up after an earlier run")


def analyse_job(self, job_id: int) -> str:
    """The task: run one analysis job (``jobs.run_job``); retried later while another live worker has it."""
    r = _resources()
    label = (self.request.hostname or "").split("@")[0] or None
    outcome = jobs.run_job(
        job_id, engine=r["engine"], analyzer=r["analyzer"], store=r["store"], worker=jobs.worker_name(label)
    )
    if outcome is None:  # another live worker has it (a redelivery): look again later, in case it dies
        raise self.retry(countdown=max(5, int(jobs.stale_after_s() / 2)))
    log.info(
        "job %s: %s (%s faces)%s", job_id, outcome.status, outcome.faces, f": {outcome.error}" if outcome.error else ""
    )
    return outcome.status


def enqueue(job_ids: list[int]) -> None:
    for job_id in job_ids:
        app().send_task(TASK, args=[job_id], queue=QUEUE)


def run_worker(name: str | None = None, threads: int = 0, loglevel: str = "INFO") -> None:
    """Start a worker in this process: one job at a time (``--pool=solo``), using ``threads`` CPU threads."""
    if not jobs.broker_url():
        raise SystemExit("error: set BROKER_URL (e.g. redis://localhost:6379/0) to run a worker")
    if threads:
        settings.use_threads(threads)
    argv = ["worker", "--pool=solo", f"--loglevel={loglevel}", "-Q", QUEUE, "--without-gossip", "--without-mingle"]
    if name:
        argv += ["-n", f"{name}@%h"]
    app().worker_main(argv)

"""The Celery side of analysis jobs: the app, the one task, and the worker's start-up.

Used only when ``BROKER_URL`` is set (e.g. redis://host:6379/0).  Start a worker
on any machine that reaches the broker, the database (DATABASE_URL) and the media
store (FER_MEDIA_STORE):

    python -m fer_core worker            # = celery -A fer_core.tasks worker --pool=solo ...

Delivery is at least once: the message is acknowledged only after the job's
results are committed (``acks_late``), so a worker killed mid-job leaves its
message to the broker, which hands it to another worker once the visibility
timeout (``FER_JOB_VISIBILITY_S``) has passed.  ``jobs.run_job`` makes the second
delivery safe: it takes over only an orphaned job and writes under a claim token.
"""
from __future__ import annotations

import logging
import os

from celery import Celery, signals

from . import jobs

QUEUE = "fer-analysis"
log = logging.getLogger(__name__)

app = Celery("fer_core")
app.conf.update(
    broker_url=jobs.broker_url(),
    task_default_queue=QUEUE,
    task_acks_late=True,  # acknowledge after the work is stored, not before
    task_reject_on_worker_lost=True,  # a lost worker's message goes back to the queue
    worker_prefetch_multiplier=1,  # a busy worker holds no messages that an idle one could take
    task_ignore_result=True,  # job state lives in our database (analysis_job), not in a result backend
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    broker_transport_options={
        # how long a delivered, unacknowledged message waits before another worker gets it
        "visibility_timeout": int(os.environ.get("FER_JOB_VISIBILITY_S", "3600")),
        "unacked_restore_interval": int(os.environ.get("FER_JOB_RESTORE_EVERY_S", "10")),
        "unacked_restore_throttle": 1,
    },
)

_state: dict = {}


def _resources():
    """The worker's engine, analyzer (models loaded once per process) and media store."""
    if not _state:
        from .analyzer import Analyzer
        from .config import AnalyzerConfig
        from .db import make_engine, upgrade
        from .store import media_store

        engine = make_engine()
        upgrade(engine)
        analyzer = Analyzer(AnalyzerConfig.from_env())
        analyzer.load_models()
        _state.update(engine=engine, analyzer=analyzer, store=media_store())
    return _state


@signals.worker_ready.connect
def _load_models_before_the_first_job(**_):
    _resources()
    log.info("models loaded; waiting for jobs")


@app.task(bind=True, name="fer_core.analyse_job", max_retries=None)
def analyse_job(self, job_id: int) -> str:
    r = _resources()
    label = (self.request.hostname or "").split("@")[0] or None
    outcome = jobs.run_job(job_id, engine=r["engine"], analyzer=r["analyzer"], store=r["store"],
                           worker=jobs.worker_name(label))
    if outcome is None:  # another live worker has it (a redelivery): look again later, in case it dies
        raise self.retry(countdown=max(5, int(jobs.stale_after_s() / 2)))
    log.info("job %s: %s (%s faces)%s", job_id, outcome.status, outcome.faces,
             f": {outcome.error}" if outcome.error else "")
    return outcome.status


def enqueue(job_ids: list[int]) -> None:
    for job_id in job_ids:
        analyse_job.apply_async(args=[job_id])


def run_worker(name: str | None = None, threads: int = 0, loglevel: str = "INFO") -> None:
    """Start a worker in this process: one job at a time (``--pool=solo``), using ``threads`` CPU threads."""
    if not jobs.broker_url():
        raise SystemExit("error: set BROKER_URL (e.g. redis://localhost:6379/0) to run a worker")
    if threads:
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
        os.environ["FER_THREADS"] = str(threads)
        os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    argv = ["worker", "--pool=solo", f"--loglevel={loglevel}", "-Q", QUEUE, "--without-gossip",
            "--without-mingle"]
    if name:
        argv += ["-n", f"{name}@%h"]
    app.worker_main(argv)

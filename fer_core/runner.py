"""Analysis jobs run on a thread of this process when no broker is set.

The dashboard owns one runner for its whole process, so an analysis started on the Upload page goes on when
the user opens another page (Streamlit stops a page's script run when the user leaves it; a job running
inside that run would stop with it).  Jobs run one after another, as on one worker; their progress is in
the job rows (``jobs.run_job``'s heartbeat), which the Upload and Jobs pages read.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from sqlalchemy import Engine

from fer_core import jobs
from fer_core.analyzer import Analyzer
from fer_core.storage.store import MediaStore

log = logging.getLogger(__name__)


class LocalRunner:
    """A queue of job ids and one daemon thread that runs them (``jobs.run_job``)."""

    def __init__(self, *, engine: Engine, analyzer: Analyzer, store: MediaStore | None = None):
        self.engine, self.analyzer, self.store = engine, analyzer, store
        self._queue: queue.Queue[int] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending: set[int] = set()

    def pending(self) -> set[int]:
        """The jobs this runner has been given and not yet finished."""
        with self._lock:
            return set(self._pending)

    def submit(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            with self._lock:
                self._pending.add(job_id)
            self._queue.put(job_id)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="fer-local-runner", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            try:
                outcome = self._run(job_id)
                while outcome is None:  # another worker has this very file: wait for it (or for it to die)
                    time.sleep(2)
                    outcome = self._run(job_id)
            except Exception:  # WeightsError and the like: run_job has marked the job failed with the reason
                log.exception("job %s failed", job_id)
            finally:
                with self._lock:
                    self._pending.discard(job_id)
                self._queue.task_done()

    def _run(self, job_id: int):
        return jobs.run_job(job_id, engine=self.engine, analyzer=self.analyzer, store=self.store)

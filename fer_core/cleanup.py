"""What a killed process leaves behind, removed when the next one starts.

An upload is first written to a temporary folder (``upload_folder``), named after the process that owns it;
then each file is copied into the media store for its job. A dashboard or worker killed mid-way leaves
such folders in the system's temporary directory, ``.part`` files and copies that no job or media row
refers to. ``sweep`` removes them; copies that a job still needs (a queued or interrupted job, to be run
again from the Jobs page) stay.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, select

from fer_core.storage.orm import AnalysisJob, MediaFile
from fer_core.storage.store import LocalStore, MediaStore, media_store

PREFIX = "fer-upload-"
# A copy in the store is named by its content (storage pipeline.media_key): SESSION/SHA256.EXT
COPY = re.compile(r"^[0-9a-f]{64}\.[A-Za-z0-9]+$")
PART_AGE_S = 3600  # an older .part file is no write in progress


def upload_folder() -> tempfile.TemporaryDirectory:
    """A temporary folder for an upload's files, owned by this process (removed on exit, or by ``sweep``)."""
    return tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-")


def alive(pid: int) -> bool:
    """Whether the process ``pid`` still runs (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(
    engine: Engine,
    store: MediaStore | None = None,
    *,
    temp_root: str | Path | None = None,
    part_age_s: float = PART_AGE_S,
    copy_age_s: float = 60.0,
) -> dict[str, int]:
    """Remove what killed processes left: their upload folders, ``.part`` files and copies nothing refers to
    (a copy at least ``copy_age_s`` old: younger ones may be on their way to their job). Returns how many of
    each were removed."""
    removed = {"upload folders": 0, "part files": 0, "copies": 0}
    for folder in Path(temp_root or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid = folder.name[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed["upload folders"] += 1
    store = store or media_store()
    if not isinstance(store, LocalStore) or not store.root.is_dir():
        return removed  # object storage: copies are deleted by their jobs; nothing is written half there
    with engine.connect() as c:
        needed = set(c.execute(select(AnalysisJob.source).where(AnalysisJob.source.is_not(None))).scalars())
        needed |= set(c.execute(select(MediaFile.stored_path).where(MediaFile.stored_path.is_not(None))).scalars())
    now = time.time()
    for session in store.root.iterdir():
        if not session.is_dir():
            continue
        for path in session.iterdir():
            if path.name.endswith(".part") and now - path.stat().st_mtime >= part_age_s:
                path.unlink(missing_ok=True)
                removed["part files"] += 1
            elif COPY.match(path.name) and str(path) not in needed and now - path.stat().st_mtime >= copy_age_s:
                store.delete(str(path))
                removed["copies"] += 1
    return removed

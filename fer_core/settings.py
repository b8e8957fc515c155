"""The product's settings, read from the environment here and nowhere else.

``current()`` reads the variables each time it is called (cheap), so a test or a worker that changes them
sees the change.  Analysis settings are ``config.AnalyzerConfig``'s (its ``FER_<FIELD>`` variables are
collected here, parsed there).  Libraries that read their own variables (boto3's ``AWS_*``, TensorFlow's
``TF_*``, Kaleido's ``BROWSER_PATH``) keep doing so.
"""

from __future__ import annotations

import json
import logging
import os
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    home: Path  # FER_HOME: the default database and media live here (default ./data)
    database_url: str | None  # DATABASE_URL (default: sqlite in FER_HOME)
    media_store: str | None  # FER_MEDIA_STORE: a folder or s3://bucket/prefix (default: FER_HOME/media)
    weights_dir: Path  # FER_WEIGHTS_DIR (default: the repository's weights/)
    broker_url: str | None  # BROKER_URL: analysis jobs go to Celery workers when set
    job_stale_s: float  # FER_JOB_STALE_S: a running job without a heartbeat for this long is orphaned
    job_heartbeat_s: float  # FER_JOB_HEARTBEAT_S
    job_visibility_s: int  # FER_JOB_VISIBILITY_S: an unacknowledged message goes to another worker after this
    job_restore_every_s: int  # FER_JOB_RESTORE_EVERY_S
    dashboard_password_hash: str | None  # FER_DASHBOARD_PASSWORD_HASH (scrypt, `hash-password`): login on when set
    dashboard_password_sha256: str | None  # FER_DASHBOARD_PASSWORD_SHA256: the older, unsalted form
    dashboard_idle_minutes: float  # FER_DASHBOARD_IDLE_MINUTES: a logged-in tab idle this long is logged out
    login_first_wait_s: float  # FER_LOGIN_FIRST_WAIT_S: the wait after the third wrong password (then doubling)
    # FER_TRUSTED_PROXIES: comma-separated addresses or networks of the reverse proxies whose X-Forwarded-For
    # names the client (default none: every client is counted under the address it connects from)
    trusted_proxies: list
    viewers_see_faces: bool  # FER_VIEWERS_SEE_FACES: viewers' accounts see face pictures and videos
    live_fps: float  # FER_LIVE_FPS: the most frames a second a live run analyses
    live_ice_servers: list  # FER_LIVE_ICE_SERVERS: STUN/TURN servers for live runs, as JSON (default none)
    analysis: Mapping[str, str] = field(default_factory=dict)  # FER_<FIELD> of AnalyzerConfig, raw


def current(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``environ`` (default: this process's environment)."""
    env = os.environ if environ is None else environ
    return Settings(
        home=Path(env.get("FER_HOME", "data")).resolve(),
        database_url=env.get("DATABASE_URL") or None,
        media_store=env.get("FER_MEDIA_STORE") or None,
        weights_dir=Path(env.get("FER_WEIGHTS_DIR") or REPO / "weights"),
        broker_url=env.get("BROKER_URL") or None,
        job_stale_s=float(env.get("FER_JOB_STALE_S", "60")),
        job_heartbeat_s=float(env.get("FER_JOB_HEARTBEAT_S", "2")),
        job_visibility_s=int(env.get("FER_JOB_VISIBILITY_S", "3600")),
        job_restore_every_s=int(env.get("FER_JOB_RESTORE_EVERY_S", "10")),
        dashboard_password_hash=env.get("FER_DASHBOARD_PASSWORD_HASH") or None,
        dashboard_password_sha256=env.get("FER_DASHBOARD_PASSWORD_SHA256") or None,
        dashboard_idle_minutes=float(env.get("FER_DASHBOARD_IDLE_MINUTES", "60")),
        login_first_wait_s=float(env.get("FER_LOGIN_FIRST_WAIT_S", "2")),
        trusted_proxies=[a.strip() for a in env.get("FER_TRUSTED_PROXIES", "").split(",") if a.strip()],
        viewers_see_faces=env.get("FER_VIEWERS_SEE_FACES", "").lower() in ("1", "true", "yes"),
        live_fps=float(env.get("FER_LIVE_FPS", "8")),
        live_ice_servers=_json_list(env.get("FER_LIVE_ICE_SERVERS"), "FER_LIVE_ICE_SERVERS"),
        analysis={k[4:].lower(): v for k, v in env.items() if k.startswith("FER_")},
    )


def _json_list(text: str | None, name: str) -> list:
    if not text:
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name} is not JSON ({exc})") from exc
    if not isinstance(value, list):
        raise ValueError(f'{name} must be a JSON list, e.g. [{{"urls": ["turn:turn.example.org:3478"]}}]')
    return value


def use_threads(threads: int) -> None:
    """Have this process's models use ``threads`` CPU threads (TensorFlow reads its own variables at import)."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ["FER_THREADS"] = str(threads)


def quiet_tensorflow() -> None:
    """TensorFlow's C++ start-up messages off, unless the user asked for them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# user:password@ in any URL (redis://:pw@host, postgresql+psycopg://user:pw@host/db, amqp://u:pw@host//)
_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@\s]+)@", re.I)


def masked(text) -> str:
    """``text`` with the password of every URL in it replaced by ``***``: what is shown or logged."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", str(text))


def mask_logs() -> None:
    """Mask passwords in URLs in every log record of this process (messages and tracebacks)."""
    make = logging.getLogRecordFactory()
    if getattr(make, "masks_secrets", False):
        return

    def record(*args, **kwargs) -> logging.LogRecord:
        r = make(*args, **kwargs)
        r.msg, r.args = masked(r.getMessage()), None
        if r.exc_info:
            r.exc_text, r.exc_info = masked("".join(traceback.format_exception(*r.exc_info))).rstrip(), None
        return r

    record.masks_secrets = True
    logging.setLogRecordFactory(record)

"""The dashboard's password: a salted, slow hash (scrypt), and throttling of wrong guesses.

No Streamlit here: the dashboard's login page (``dashboard/auth.py``) asks, this module answers.

``FER_DASHBOARD_PASSWORD_HASH`` holds ``scrypt$N$r$p$SALT$KEY`` (base64), made by
``python -m fer_core hash-password``. The older ``FER_DASHBOARD_PASSWORD_SHA256`` (an unsalted SHA-256,
fast to guess from a leaked value) still works, with a warning in the log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, insert, select

from fer_core.storage.orm import LoginFailure

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # about 0.1 s and 32 MB per guess


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password``, as FER_DASHBOARD_PASSWORD_HASH takes it."""
    salt = os.urandom(16)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(key).decode()}"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * r * n * 2, dklen=32)


def check(password: str, *, scrypt_hash: str | None = None, sha256_hex: str | None = None) -> bool:
    """Whether ``password`` matches the configured secret (the scrypt hash if given, else the SHA-256)."""
    if scrypt_hash:
        try:
            scheme, n, r, p, salt, key = scrypt_hash.strip().split("$")
            if scheme != "scrypt":
                raise ValueError(scheme)
            got = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "FER_DASHBOARD_PASSWORD_HASH is not a hash made by `python -m fer_core hash-password`"
            ) from exc
        return hmac.compare_digest(got, base64.b64decode(key))
    if sha256_hex:
        return hmac.compare_digest(hashlib.sha256(password.encode()).hexdigest(), sha256_hex.strip().lower())
    return False


class Throttle:
    """Wrong passwords slow down, per client address and in total, then lock out for a while.

    After ``free`` wrong tries a client waits ``base_s`` seconds, doubling with each further one up to
    ``max_wait_s``; after ``lockout_after`` it is locked out for ``lockout_s``, which then ends by itself.
    Everyone waits while more than ``total_limit`` wrong tries came in the last ``total_window_s`` (a guesser
    with many addresses). A client's tries count for ``lockout_s``. The tries are kept in the database
    (``login_failure``), not in the dashboard's memory: a new tab, a cleared cache, a restart or a second
    dashboard process on the same database does not reset them.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        free: int = 3,
        base_s: float = 2.0,
        max_wait_s: float = 60.0,
        lockout_after: int = 10,
        lockout_s: float = 900.0,
        total_limit: int = 50,
        total_window_s: float = 600.0,
        clock: Callable[[], float] = time.time,
    ):
        self.engine = engine
        self.free, self.base_s, self.max_wait_s = free, base_s, max_wait_s
        self.lockout_after, self.lockout_s = lockout_after, lockout_s
        self.total_limit, self.total_window_s = total_limit, total_window_s
        self.clock = clock

    def wait_s(self, client: str) -> float:
        """Seconds before ``client`` may try a password again (0: now)."""
        now = self.clock()
        since = now - max(self.lockout_s, self.total_window_s)
        with self.engine.connect() as db:
            rows = db.execute(
                select(LoginFailure.client, LoginFailure.at).where(LoginFailure.at > since).order_by(LoginFailure.at)
            ).all()
        everyone = [at for _, at in rows if at > now - self.total_window_s]
        mine = [at for who, at in rows if who == client[:100] and at > now - self.lockout_s]
        wait = 0.0
        if len(everyone) >= self.total_limit:
            wait = everyone[len(everyone) - self.total_limit] + self.total_window_s - now
        if len(mine) >= self.lockout_after:
            wait = max(wait, mine[-1] + self.lockout_s - now)
        elif len(mine) >= self.free:
            wait = max(wait, mine[-1] + min(self.base_s * 2 ** (len(mine) - self.free), self.max_wait_s) - now)
        return max(wait, 0.0)

    def failed(self, client: str) -> None:
        """Count a wrong try (the login page counts each try before checking it, and takes it back on success,
        so that guesses sent side by side all count)."""
        now = self.clock()
        with self.engine.begin() as db:
            forget = now - max(self.lockout_s, self.total_window_s)
            db.execute(delete(LoginFailure).where(LoginFailure.at < forget))
            db.execute(insert(LoginFailure).values(client=client[:100], at=now))

    def succeeded(self, client: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(LoginFailure).where(LoginFailure.client == client[:100]))

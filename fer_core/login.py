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
import threading
import time
from collections import deque
from collections.abc import Callable

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
    with many addresses). Kept in the dashboard's memory: a new tab or browser does not reset it.
    """

    def __init__(
        self,
        *,
        free: int = 3,
        base_s: float = 2.0,
        max_wait_s: float = 60.0,
        lockout_after: int = 10,
        lockout_s: float = 900.0,
        total_limit: int = 50,
        total_window_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.free, self.base_s, self.max_wait_s = free, base_s, max_wait_s
        self.lockout_after, self.lockout_s = lockout_after, lockout_s
        self.total_limit, self.total_window_s = total_limit, total_window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[int, float]] = {}  # client -> (wrong tries, time of the last)
        self._recent: deque[float] = deque()  # times of every client's wrong tries in the window

    def wait_s(self, client: str) -> float:
        """Seconds before ``client`` may try a password again (0: now)."""
        now = self.clock()
        with self._lock:
            while self._recent and now - self._recent[0] > self.total_window_s:
                self._recent.popleft()
            wait = 0.0
            if len(self._recent) >= self.total_limit:
                wait = self._recent[0] + self.total_window_s - now
            tries, last = self._clients.get(client, (0, now))
            if tries >= self.lockout_after:
                if now - last >= self.lockout_s:  # the lockout is over: start afresh
                    self._clients.pop(client, None)
                else:
                    wait = max(wait, last + self.lockout_s - now)
            elif tries >= self.free:
                wait = max(wait, last + min(self.base_s * 2 ** (tries - self.free), self.max_wait_s) - now)
            return max(wait, 0.0)

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            tries, _ = self._clients.get(client, (0, now))
            self._clients[client] = (tries + 1, now)
            self._recent.append(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)

"""The dashboard's password: a salted, slow hash (scrypt), throttling of wrong guesses, and logins.

No Streamlit here: the dashboard's login page (``dashboard/gate.py``) asks, this module answers.

A login (:class:`Logins`) is a random token that the browser keeps in an HttpOnly cookie and the database
keeps as its SHA-256: whoever does not hold the cookie is not logged in, whatever else they know (a tab's
Streamlit session id travels in upload URLs and proxy logs; the token does not).

``FER_DASHBOARD_PASSWORD_HASH`` holds ``scrypt$N$r$p$SALT$KEY`` (base64), made by
``python -m fer_core hash-password``. The older ``FER_DASHBOARD_PASSWORD_SHA256`` (an unsalted SHA-256,
fast to guess from a leaked value) still works, with a warning in the log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, insert, select, update

from fer_core.storage.orm import LoginFailure, LoginSession

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


class Logins:
    """Logins kept in the database (``login_session``), so that every dashboard process on it and a restart
    agree on who is logged in. A login ends when its holder logs out or after ``idle_s`` without use."""

    def __init__(self, engine: Engine, *, idle_s: float, clock: Callable[[], float] = time.time):
        self.engine, self.idle_s, self.clock = engine, idle_s, clock

    def start(self, who: str, client: str) -> tuple[str, str]:
        """A new login: (token for the cookie, public login id)."""
        token, login_id, now = secrets.token_urlsafe(32), secrets.token_hex(16), self.clock()
        with self.engine.begin() as db:
            db.execute(
                insert(LoginSession).values(
                    id=login_id,
                    token_sha256=_sha256(token),
                    who=who[:100],
                    client=client[:100],
                    started_at=now,
                    seen_at=now,
                )
            )
        return token, login_id

    def of_token(self, token: str | None) -> str | None:
        """The id of the active login ``token`` opens, or None (no such login, ended, or idle too long)."""
        if not token:
            return None
        with self.engine.connect() as db:
            row = db.execute(
                select(LoginSession.id, LoginSession.seen_at, LoginSession.ended_at).where(
                    LoginSession.token_sha256 == _sha256(token)
                )
            ).first()
        if row is None or row.ended_at is not None:
            return None
        if self.clock() - row.seen_at > self.idle_s:
            self.end(row.id, "idle")
            return None
        return row.id

    def status(self, login_id: str | None) -> str:
        """ "active" (and marked as used now), "idle" (ended now or before for lack of use), or "ended"."""
        if not login_id:
            return "ended"
        now = self.clock()
        with self.engine.begin() as db:
            row = db.execute(
                select(LoginSession.seen_at, LoginSession.ended_at, LoginSession.end_reason).where(
                    LoginSession.id == login_id
                )
            ).first()
            if row is None:
                return "ended"
            if row.ended_at is not None:
                return "idle" if row.end_reason == "idle" else "ended"
            if now - row.seen_at > self.idle_s:
                db.execute(
                    update(LoginSession).where(LoginSession.id == login_id).values(ended_at=now, end_reason="idle")
                )
                return "idle"
            db.execute(update(LoginSession).where(LoginSession.id == login_id).values(seen_at=now))
            return "active"

    def who(self, login_id: str) -> tuple[str, str] | None:
        """(who logged in, from which address), or None."""
        with self.engine.connect() as db:
            row = db.execute(select(LoginSession.who, LoginSession.client).where(LoginSession.id == login_id)).first()
        return (row.who, row.client) if row else None

    def active(self, login_id: str) -> bool:
        """Whether the login has not ended (without marking it as used: the gate asks this on every message)."""
        with self.engine.connect() as db:
            row = db.execute(select(LoginSession.ended_at).where(LoginSession.id == login_id)).first()
        return row is not None and row.ended_at is None

    def end(self, login_id: str, reason: str = "logged out") -> None:
        with self.engine.begin() as db:
            db.execute(
                update(LoginSession)
                .where(LoginSession.id == login_id, LoginSession.ended_at.is_(None))
                .values(ended_at=self.clock(), end_reason=reason[:40])
            )


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: list[str]) -> str:
    """The address a login attempt is counted under: the connecting peer's, unless that peer is one of the
    ``trusted_proxies`` (addresses or networks, FER_TRUSTED_PROXIES), in which case the last address of
    ``X-Forwarded-For`` that is not itself a trusted proxy: the one the proxy saw.

    A client can write any X-Forwarded-For, but only a trusted proxy's is read, and a proxy that overwrites
    (or appends to) the header puts the client's real address last.
    """
    peer = (peer or "").strip() or "local"
    if not _is_trusted(peer, trusted_proxies):
        return peer
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted_proxies):
            return hop
    return peer


def _is_trusted(address: str, trusted: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in trusted:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False

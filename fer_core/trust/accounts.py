"""Personal accounts: a name, a role (``access.ACCOUNT_ROLES``) and a password kept as a salted scrypt hash
(``login.hash_password``). The first admin comes from the command line (``python -m fer_core users add``);
after that, admins add the others there or on the Users page."""

from __future__ import annotations

from sqlalchemy import Engine, delete, func, select

from fer_core.storage.db import session_factory
from fer_core.storage.orm import UserAccount
from fer_core.trust import access, login

MIN_PASSWORD = 8


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")


def _check_role(role: str) -> None:
    if role not in access.ACCOUNT_ROLES:
        raise ValueError(f"a role is one of {', '.join(access.ACCOUNT_ROLES)}; received {role!r}")


def add(engine: Engine, name: str, role: str, password: str) -> None:
    """A new account; ValueError, in words, for a taken or blank name, an unknown role or a short password."""
    name = name.strip()
    if not name or len(name) > 100 or any(c in name for c in "\r\n\t"):
        raise ValueError("an account name is 1 to 100 characters on one line")
    _check_role(role)
    _check_password(password)
    with session_factory(engine)() as db:
        if db.get(UserAccount, name) is not None:
            raise ValueError(f"an account named {name!r} exists already")
        db.add(UserAccount(name=name, role=role, password_hash=login.hash_password(password)))
        db.commit()


def listing(engine: Engine) -> list[dict]:
    with session_factory(engine)() as db:
        rows = db.scalars(select(UserAccount).order_by(UserAccount.name))
        return [{"name": a.name, "role": a.role, "created_at": a.created_at.isoformat()} for a in rows]


def any_accounts(engine: Engine) -> bool:
    with engine.connect() as db:
        return bool(db.scalar(select(func.count()).select_from(UserAccount)))


def role_of(engine: Engine, name: str) -> str | None:
    with session_factory(engine)() as db:
        account = db.get(UserAccount, name)
        return account.role if account else None


def verify(engine: Engine, name: str, password: str) -> str | None:
    """The account's role if ``password`` is its password, else None (the same time spent either way)."""
    with session_factory(engine)() as db:
        account = db.get(UserAccount, name)
        stored = account.password_hash if account else login.hash_password("an account that does not exist")
        ok = login.check(password, scrypt_hash=stored)
        return account.role if account and ok else None


def set_role(engine: Engine, name: str, role: str) -> None:
    _check_role(role)
    with session_factory(engine)() as db:
        account = _get(db, name)
        if account.role == access.ADMIN and role != access.ADMIN:
            _keep_an_admin(db, name)
        account.role = role
        db.commit()


def set_password(engine: Engine, name: str, password: str) -> None:
    _check_password(password)
    with session_factory(engine)() as db:
        _get(db, name).password_hash = login.hash_password(password)
        db.commit()


def remove(engine: Engine, name: str) -> None:
    with session_factory(engine)() as db:
        if _get(db, name).role == access.ADMIN:
            _keep_an_admin(db, name)
        db.execute(delete(UserAccount).where(UserAccount.name == name))
        db.commit()


def _get(db, name: str) -> UserAccount:
    account = db.get(UserAccount, name)
    if account is None:
        raise ValueError(f"no account named {name!r}")
    return account


def _keep_an_admin(db, name: str) -> None:
    others = db.scalar(
        select(func.count()).select_from(UserAccount).where(UserAccount.role == access.ADMIN, UserAccount.name != name)
    )
    if not others:
        raise ValueError("this is the last admin: make another account admin first")

"""Who may do what: three roles, and the account acting now.

The rules live here and are asked at fer_core's door (``service``), not only by the pages' hidden buttons, so a
viewer's forged widget message or a command run ``--as`` a viewer is refused the same way. The account acting
now is a context variable: the CLI sets it once (``--as NAME``, else the machine's user as admin: whoever runs
commands here can read the database anyway), the dashboard at the start of each script run from the login.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

ADMIN, RESEARCHER, VIEWER = "admin", "researcher", "viewer"
ACCOUNT_ROLES: tuple[str, ...] = (ADMIN, RESEARCHER, VIEWER)

# action: (the roles that may take it, the words a refusal uses)
RIGHTS: dict[str, tuple[frozenset[str], str]] = {
    "read": (frozenset(ACCOUNT_ROLES), "see the pages"),
    "report": (frozenset(ACCOUNT_ROLES), "make reports"),
    "faces": (frozenset({ADMIN, RESEARCHER}), "see face pictures"),
    "upload": (frozenset({ADMIN, RESEARCHER}), "upload or record media"),
    "analyse": (frozenset({ADMIN, RESEARCHER}), "analyse media"),
    "edit": (frozenset({ADMIN, RESEARCHER}), "edit sessions, names and roles"),
    "markers": (frozenset({ADMIN, RESEARCHER}), "add or remove markers"),
    "review": (frozenset({ADMIN, RESEARCHER}), "review faces"),
    "adapt": (frozenset({ADMIN, RESEARCHER}), "adapt the models"),
    "export": (frozenset({ADMIN, RESEARCHER}), "export data"),
    "delete": (frozenset({ADMIN}), "delete sessions"),
    "erase": (frozenset({ADMIN}), "erase a participant"),
    "retention": (frozenset({ADMIN}), "apply retention"),
    "users": (frozenset({ADMIN}), "manage accounts"),
    "audit": (frozenset({ADMIN}), "read the audit trail"),
}


class NotAllowed(PermissionError):
    """The acting account's role may not take this action; the message says so in one line."""


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    client: str = "command line"


def machine_user() -> Actor:
    try:
        name = getpass.getuser()
    except Exception:  # no user name in this environment
        name = "local"
    return Actor(name=name, role=ADMIN)


_acting: ContextVar[Actor | None] = ContextVar("fer_acting", default=None)


def current() -> Actor:
    """The account acting now (default: the machine's user, as admin)."""
    return _acting.get() or machine_user()


def act_as(actor: Actor) -> None:
    """From now on, in this thread or task, ``actor`` acts."""
    _acting.set(actor)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _acting.set(actor)
    try:
        yield actor
    finally:
        _acting.reset(token)


def may(action: str, actor: Actor | None = None) -> bool:
    roles, _ = RIGHTS[action]
    return (actor or current()).role in roles


def can_see_faces(actor: Actor | None = None) -> bool:
    """Whether face pictures and videos may be shown: not to a viewer, unless FER_VIEWERS_SEE_FACES."""
    from fer_core import settings

    actor = actor or current()
    return may("faces", actor) or (actor.role == VIEWER and settings.current().viewers_see_faces)


def require(action: str) -> Actor:
    """The acting account, if its role may take ``action``; else NotAllowed."""
    actor = current()
    if not may(action, actor):
        _, words = RIGHTS[action]
        raise NotAllowed(f"{actor.name} is a {actor.role} and may not {words}")
    return actor

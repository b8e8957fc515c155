"""The audit trail: who did what, when, from where, to which session. Appended, never changed or deleted by
the product (retention and erasure leave it alone; an erasure's receipt is kept here, without the erased data).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, select

from fer_core.storage.orm import AuditEvent
from fer_core.trust import access


def record(
    engine: Engine,
    action: str,
    *,
    session_id: int | None = None,
    target: str | None = None,
    detail: dict | None = None,
    actor: access.Actor | None = None,
) -> None:
    """Append one event, done by ``actor`` (default: the account acting now)."""
    who = actor or access.current()
    with engine.begin() as db:
        db.execute(
            insert(AuditEvent).values(
                who=who.name[:100],
                role=who.role[:12],
                action=action[:40],
                session_id=session_id,
                target=(target or None) and str(target)[:500],
                detail=detail,
                client=(who.client or "")[:100] or None,
            )
        )


def events(
    engine: Engine,
    *,
    who: str | None = None,
    action: str | None = None,
    session_id: int | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[dict]:
    """The trail, oldest first (the newest ``limit`` where given), as {"at", "who", "role", "action", "session",
    "target", "detail", "client"}."""
    t = AuditEvent.__table__
    stmt = select(t).order_by(t.c.id.desc())
    for column, value in (("who", who), ("action", action), ("session_id", session_id)):
        if value is not None and value != "":
            stmt = stmt.where(t.c[column] == value)
    if since is not None:
        stmt = stmt.where(t.c.at >= since)
    if limit:
        stmt = stmt.limit(limit)
    with engine.connect() as db:
        rows = [r._mapping for r in db.execute(stmt)]
    out = [
        {
            "at": e["at"].isoformat(timespec="seconds") + "Z",
            "who": e["who"],
            "role": e["role"],
            "action": e["action"],
            "session": e["session_id"],
            "target": e["target"],
            "detail": e["detail"],
            "client": e["client"],
        }
        for e in rows
    ]
    return out[::-1]

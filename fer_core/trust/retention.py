"""Retention: a period after which stored media and face pictures are deleted, for every session or for the
sessions with a tag, with their readings kept or deleted too. Applied by ``python -m fer_core retention
apply`` (run it daily from cron) and when the dashboard starts; each application that deletes anything is
recorded in the audit trail. A file's age counts from when it was uploaded; where several rules cover a
session, the shortest period applies, and readings are kept only if every such rule keeps them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select, update

from fer_core.storage.db import session_factory
from fer_core.storage.orm import (
    AnalysisJob,
    FaceDetection,
    FeedbackSession,
    MediaFile,
    RetentionRule,
    SessionTag,
    utcnow,
)
from fer_core.storage.store import MediaStore, face_key, forget_playable, media_store, store_for
from fer_core.trust import access, audit

EVERYTHING = ""


def rules(engine: Engine) -> list[dict]:
    """The rules as {"tag" (None: every session), "days", "keep_readings"}."""
    with session_factory(engine)() as db:
        found = db.scalars(select(RetentionRule).order_by(RetentionRule.tag))
        return [{"tag": r.tag or None, "days": r.days, "keep_readings": r.keep_readings} for r in found]


def set_rule(engine: Engine, *, days: int | None, tag: str | None = None, keep_readings: bool = True) -> None:
    """Set (or, with ``days`` None, remove) the rule for ``tag`` (None: every session)."""
    access.require("retention")
    if days is not None and days < 1:
        raise ValueError("a retention period is at least 1 day")
    key = (tag or "").strip()
    with session_factory(engine)() as db:
        db.execute(delete(RetentionRule).where(RetentionRule.tag == key))
        if days is not None:
            db.add(RetentionRule(tag=key, days=int(days), keep_readings=keep_readings))
        db.commit()
    audit.record(
        engine, "retention rule", target=key or "every session", detail={"days": days, "keep_readings": keep_readings}
    )


def due(engine: Engine, *, now: datetime | None = None) -> list[dict]:
    """The files past their period: {"media_id", "session_id", "stored_path", "sha256", "keep_readings"}."""
    now = now or utcnow()
    with session_factory(engine)() as db:
        found = db.scalars(select(RetentionRule)).all()
        if not found:
            return []
        tags: dict[int, set[str]] = {}
        for sid, tag in db.execute(select(SessionTag.session_id, SessionTag.tag)):
            tags.setdefault(sid, set()).add(tag)
        files = db.execute(
            select(MediaFile.id, MediaFile.session_id, MediaFile.stored_path, MediaFile.sha256, MediaFile.created_at)
        ).all()
    out = []
    for media_id, sid, path, sha, created in files:
        covering = [r for r in found if r.tag == EVERYTHING or r.tag in tags.get(sid, set())]
        if not covering or created > now - timedelta(days=min(r.days for r in covering)):
            continue
        keep = all(r.keep_readings for r in covering)
        out.append({"media_id": media_id, "session_id": sid, "stored_path": path, "sha256": sha, "keep_readings": keep})
    return out


def apply(engine: Engine, *, store: MediaStore | None = None, now: datetime | None = None, why: str = "") -> dict:
    """Delete what is past its period; returns counts {"files", "stored_files_deleted", "face_pictures_deleted",
    "readings_deleted"}."""
    access.require("retention")
    store = store or media_store()
    locations, shas, dropped, sessions, pictures, expired = [], set(), 0, set(), [], []
    with session_factory(engine)() as db:
        for f in due(engine, now=now):
            detections = db.scalars(select(FaceDetection.id).where(FaceDetection.media_id == f["media_id"])).all()
            kept = [
                loc for loc in (store.location(face_key(f["session_id"], d)) for d in detections) if store.exists(loc)
            ]
            if f["keep_readings"] and not f["stored_path"] and not kept:
                continue  # already applied: nothing of it left to delete
            expired.append(f)
            pictures += kept
            if f["stored_path"]:
                locations.append(f["stored_path"])
            shas.add(f["sha256"])
            sessions.add(f["session_id"])
            if f["keep_readings"]:
                db.execute(update(MediaFile).where(MediaFile.id == f["media_id"]).values(stored_path=None))
            else:
                db.execute(delete(AnalysisJob).where(AnalysisJob.media_id == f["media_id"]))
                db.execute(delete(MediaFile).where(MediaFile.id == f["media_id"]))
                dropped += 1
        db.commit()
        names = dict(db.execute(select(FeedbackSession.id, FeedbackSession.name)).all())
    for location in dict.fromkeys(locations + pictures):
        store_for(location, store).delete(location)
    forget_playable(shas)
    counts = {
        "files": len(expired),
        "stored_files_deleted": len(set(locations)),
        "face_pictures_deleted": len(pictures),
        "readings_deleted": dropped,
    }
    if expired:
        audit.record(
            engine,
            "retention applied",
            target=why or None,
            detail={**counts, "sessions": sorted(sessions), "names": [names.get(s) for s in sorted(sessions)]},
        )
    return counts

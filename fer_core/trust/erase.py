"""A participant erased on request (GDPR art. 17): everything about one person, across sessions.

Who: every person named ``label`` (``person_label``), and in each session whose participant is ``label`` the
people counted as its participant (``statistics.roles``). What goes: their readings and everything computed
from them, their face pictures, their reviews, the names and roles given to them, every stored file where they
appear (deleted, not blurred: a blur that misses one frame of a track would leave the face, so the other
people's readings are kept and only the file goes), the browser copies of those videos, the adapted versions
learnt from their reviewed faces, and the label wherever it is written (session details, file names,
markers, job messages). A receipt of counts goes to the audit trail, the one place the label stays.
"""

from __future__ import annotations

import json
import re

from sqlalchemy import JSON, Engine, String, Text, cast, delete, func, select, update

from fer_core.statistics import roles
from fer_core.storage import queries, repository
from fer_core.storage.db import session_factory
from fer_core.storage.orm import (
    AdaptedVersion,
    AnalysisJob,
    Base,
    FaceDetection,
    FaceReview,
    FeedbackSession,
    MediaFile,
    PersonLabel,
    Prediction,
    SessionTag,
    TagAdaptation,
)
from fer_core.storage.store import MediaStore, face_key, forget_playable, media_store, store_for
from fer_core.trust import access, audit

ERASED = "[erased]"
# the trail keeps the receipt; the login tables hold no participant's data, and their hashes must never be rewritten
KEEP_TEXT = {"audit_event", "user_account", "login_session", "login_failure"}


def erase_participant(label: str, *, engine: Engine, store: MediaStore | None = None) -> dict:
    """Erase the participant ``label`` (see the module's words); returns the receipt (counts, sessions)."""
    access.require("erase")
    label = (repository.clean_text(label) or "").strip()
    if not label:
        raise ValueError("give the participant's label")
    return _erase(engine, _their_people(engine, label), label=label, store=store)


def erase_person(media_id: int, person: int, *, engine: Engine, store: MediaStore | None = None) -> dict:
    """Erase one person seen (a track, a photo's face: ``people list`` names them), and their name wherever it
    is written if they had one; returns the receipt."""
    access.require("erase")
    with session_factory(engine)() as db:
        media = db.get(MediaFile, media_id)
        seen = db.scalar(
            select(func.count())
            .select_from(FaceDetection)
            .where(FaceDetection.media_id == media_id, repository.person_key() == person)
        )
        name = db.scalar(
            select(PersonLabel.label).where(PersonLabel.media_id == media_id, PersonLabel.person == person)
        )
        shared = name and db.scalar(
            select(func.count()).select_from(PersonLabel).where(PersonLabel.label == name, PersonLabel.person != person)
        )
    if media is None or not seen:
        raise ValueError(f"no person {person} in file {media_id} (see `people list`)")
    # their name goes wherever it is written, unless it is also someone else's (a participant in other files)
    return _erase(engine, [(media.session_id, media_id, person)], label=None if shared else name, store=store)


def _erase(engine: Engine, people: list, *, label: str | None, store: MediaStore | None) -> dict:
    store = store or media_store()
    receipt = {"participant": label, "sessions": sorted({s for s, _, _ in people}), "people": len(people)}
    files_gone, pictures, shas = [], [], set()
    with session_factory(engine)() as db:
        by_media: dict[int, set[int]] = {}
        for _, media_id, person in people:
            by_media.setdefault(media_id, set()).add(person)
        detections, reviewed_sessions = 0, set()
        for media_id, persons in by_media.items():
            media = db.get(MediaFile, media_id)
            everyone = set(db.scalars(select(repository.person_key()).where(FaceDetection.media_id == media_id)))
            theirs = list(
                db.scalars(
                    select(FaceDetection.id).where(
                        FaceDetection.media_id == media_id, repository.person_key().in_(persons)
                    )
                )
            )
            detections += len(theirs)
            pictures += [face_key(media.session_id, d) for d in theirs]
            reviewed = db.scalars(
                select(FaceReview.session_id).where(
                    FaceReview.media_id == media_id, FaceReview.detection_id.in_(theirs)
                )
            ).all()
            reviewed_sessions |= set(reviewed)
            receipt["reviews"] = receipt.get("reviews", 0) + len(reviewed)
            if media.stored_path:
                files_gone.append(media.stored_path)
            shas.add(media.sha256)
            if everyone <= persons:  # only they appear: the file and all of it go
                db.execute(delete(AnalysisJob).where(AnalysisJob.media_id == media_id))
                db.execute(delete(MediaFile).where(MediaFile.id == media_id))
                receipt["files_deleted"] = receipt.get("files_deleted", 0) + 1
                continue
            db.execute(delete(FaceReview).where(FaceReview.media_id == media_id, FaceReview.detection_id.in_(theirs)))
            db.execute(delete(Prediction).where(Prediction.detection_id.in_(theirs)))
            db.execute(delete(FaceDetection).where(FaceDetection.id.in_(theirs)))
            db.execute(delete(PersonLabel).where(PersonLabel.media_id == media_id, PersonLabel.person.in_(persons)))
            db.execute(update(MediaFile).where(MediaFile.id == media_id).values(stored_path=None))
            repository.summarise_media(db, media_id=media_id)
            receipt["files_with_others"] = receipt.get("files_with_others", 0) + 1
        if label:
            db.execute(delete(PersonLabel).where(PersonLabel.label == label))  # names no file holds any more
        receipt["readings"] = detections
        receipt["adapted_versions"] = _drop_adapted(db, reviewed_sessions)
        if label:
            db.execute(update(FeedbackSession).where(FeedbackSession.participant == label).values(participant=None))
        receipt["text_mentions"] = _scrub_text(db, label) if label else 0
        db.commit()
    kept_pictures = [loc for loc in map(store.location, pictures) if store.exists(loc)]
    for location in dict.fromkeys(files_gone + kept_pictures):
        store_for(location, store).delete(location)
    forget_playable(shas - _still_used(engine, shas))
    receipt.setdefault("reviews", 0)
    receipt.setdefault("files_deleted", 0)
    receipt.setdefault("files_with_others", 0)
    receipt["stored_files_deleted"] = len(set(files_gone))
    receipt["face_pictures_deleted"] = len(kept_pictures)
    audit.record(engine, "erase participant" if label else "erase person", target=label, detail=dict(receipt))
    return receipt


def _their_people(engine: Engine, label: str) -> list[tuple[int, int, int]]:
    """(session, media, person) of everyone who is ``label``."""
    with session_factory(engine)() as db:
        named = db.execute(
            select(PersonLabel.session_id, PersonLabel.media_id, PersonLabel.person).where(
                PersonLabel.label == label, PersonLabel.person.is_not(None)
            )
        ).all()
        sessions = db.scalars(select(FeedbackSession.id).where(FeedbackSession.participant == label)).all()
    found = {tuple(map(int, r)) for r in named}
    for sid in sessions:
        rows = roles.with_roles(queries.readings(engine, session_id=sid))
        rows = rows[(rows["role"] == "participant") & (rows["name"].isna() | (rows["name"] == label))]
        found |= {(int(sid), int(m), int(p)) for m, p in rows[["media_id", "person"]].drop_duplicates().to_numpy()}
    return sorted(found)


def _drop_adapted(db, sessions: set[int]) -> int:
    """Remove the adapted versions of the tags of ``sessions`` (their reviewed faces trained them)."""
    if not sessions:
        return 0
    tags = set(db.scalars(select(SessionTag.tag).where(SessionTag.session_id.in_(sessions))))
    versions = set(db.scalars(select(AdaptedVersion.version).where(AdaptedVersion.tag.in_(tags))))
    db.execute(delete(TagAdaptation).where(TagAdaptation.version.in_(versions)))
    db.execute(delete(AdaptedVersion).where(AdaptedVersion.version.in_(versions)))
    return len(versions)


def _scrub_text(db, label: str) -> int:
    """Replace ``label`` as a whole word in every text and JSON column (but the audit trail's)."""
    word = re.compile(rf"(?<!\w){re.escape(label)}(?!\w)")
    changed = 0
    for table in Base.metadata.sorted_tables:
        if table.name in KEEP_TEXT:
            continue
        keys = list(table.primary_key.columns)
        for column in table.columns:
            is_json = isinstance(column.type, JSON)
            if column.primary_key or not (is_json or isinstance(column.type, (String, Text))):
                continue
            as_text = cast(column, Text) if is_json else column
            pattern = "%" + label.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            for row in db.execute(select(*keys, column).where(as_text.like(pattern, escape="\\"))).all():
                value = row[-1]
                text = json.dumps(value, ensure_ascii=False) if is_json else value
                if not isinstance(text, str) or not word.search(text):
                    continue
                new = word.sub(ERASED, text)
                where = [k == row[i] for i, k in enumerate(keys)]
                db.execute(update(table).where(*where).values({column.name: json.loads(new) if is_json else new}))
                changed += 1
    return changed


def _still_used(engine: Engine, shas: set) -> set:
    with engine.connect() as db:
        return set(db.scalars(select(MediaFile.sha256).where(MediaFile.sha256.in_(shas - {None}))))

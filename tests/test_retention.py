"""Retention (issue 43, item 9): stored media and face pictures deleted after a period, per tag or for every
session, readings kept or not, recorded in the audit trail."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import cv2
import pytest

from fer_core import Analyzer, AnalyzerConfig, service
from fer_core.cli import main
from fer_core.storage import queries
from fer_core.storage.db import make_engine, upgrade
from fer_core.storage.orm import utcnow
from fer_core.trust import access, audit, retention

from conftest import background, needs_weights, paste


@needs_weights
def test_media_and_face_pictures_go_after_their_period(tmp_path, faces, capsys):
    url = f"sqlite:///{tmp_path / 'fer.db'}"
    engine = make_engine(url)
    upgrade(engine)
    media = tmp_path / "media"
    photos = []
    for i in range(3):
        img = background(480, 640, seed=30 + i)
        paste(img, faces[i], 200, 100, 220)
        cv2.imwrite(str(tmp_path / f"p{i}.jpg"), img)
        photos.append(tmp_path / f"p{i}.jpg")
    analyzer = Analyzer(AnalyzerConfig(fps=2))
    kept = dict(engine=engine, analyzer=analyzer, media_root=media)
    a = service.ingest([photos[0]], session_name="store A", tags=["store"], keep="media", **kept).session_id
    b = service.ingest([photos[1]], session_name="store B", tags=["store"], keep="faces", **kept).session_id
    c = service.ingest([photos[2]], session_name="lab", tags=["lab"], keep="media", **kept).session_id
    files = lambda: sorted(p.relative_to(media).parts[0] for p in media.rglob("*") if p.is_file())  # noqa: E731
    assert files() == sorted([str(a), str(b), str(c)])

    with access.acting_as(access.Actor("vic", "viewer")), pytest.raises(access.NotAllowed):
        service.set_retention(engine=engine, days=30, tag="store")
    service.set_retention(engine=engine, days=30, tag="store")
    service.set_retention(engine=engine, days=60, tag="lab", keep_readings=False)
    os.environ["DATABASE_URL"], os.environ["FER_MEDIA_STORE"] = url, str(media)
    try:
        assert main(["retention", "list"]) == 0
        rules = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert main(["retention", "apply"]) == 0  # nothing is 30 days old yet
        assert json.loads(capsys.readouterr().out)["files"] == 0
    finally:
        del os.environ["DATABASE_URL"], os.environ["FER_MEDIA_STORE"]
    assert rules == [
        {"tag": "lab", "days": 60, "keep_readings": False},
        {"tag": "store", "days": 30, "keep_readings": True},
    ]

    counts = retention.apply(engine, store=_store(media), now=utcnow() + timedelta(days=31))
    assert counts == {"files": 2, "stored_files_deleted": 1, "face_pictures_deleted": 1, "readings_deleted": 0}
    assert files() == [str(c)]  # the lab's 60 days are not over
    assert len(queries.readings(engine, session_id=a)) == 1 and len(queries.readings(engine, session_id=b)) == 1
    again = retention.apply(engine, store=_store(media), now=utcnow() + timedelta(days=31))
    assert again["files"] == 0  # applied already: nothing more to delete, nothing recorded
    later = retention.apply(engine, store=_store(media), now=utcnow() + timedelta(days=61))
    assert later == {"files": 1, "stored_files_deleted": 1, "face_pictures_deleted": 0, "readings_deleted": 1}
    assert files() == [] and queries.readings(engine, session_id=c).empty
    trail = [e for e in audit.events(engine) if e["action"] == "retention applied"]
    assert [e["detail"]["files"] for e in trail] == [2, 1]


def _store(root):
    from fer_core.storage.store import media_store

    return media_store(root)

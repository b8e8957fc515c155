"""The media store: a folder, or S3-compatible object storage (a real S3 API server: moto's, on localhost)."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from fer_core.service import ingest, reanalyse_session
from fer_core.storage.db import make_engine, session_factory, upgrade
from fer_core.storage.orm import FaceDetection, MediaFile
from fer_core.storage.repository import delete_session
from fer_core.storage.store import LocalStore, S3Store, face_key, media_store, store_for

from conftest import needs_weights


@pytest.fixture(scope="module")
def s3_server():
    """An S3-compatible HTTP server on localhost with an empty bucket; boto3 finds it through AWS_* variables."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    mp = pytest.MonkeyPatch()
    for key, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        mp.setenv(key, value)
    import boto3

    boto3.client("s3").create_bucket(Bucket="fer-media")
    yield "s3://fer-media/team-a"
    mp.undo()
    server.stop()


def _objects(prefix: str = "") -> list[str]:
    import boto3

    listing = boto3.client("s3").list_objects_v2(Bucket="fer-media", Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path):
    if request.param == "folder":
        return LocalStore(tmp_path / "media")
    return S3Store(request.getfixturevalue("s3_server"), cache_dir=tmp_path / "cache")


def test_put_read_delete(store, tmp_path):
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"video bytes")
    loc = store.put_file("7/abc.mp4", src)
    assert store.exists(loc) and loc == store.location("7/abc.mp4")
    with store_for(loc).local_file(loc) as path:  # any machine can read a row's file from its location alone
        assert path.read_bytes() == b"video bytes"
    face = store.put_bytes(face_key(7, 42), b"jpeg")
    store.delete(loc)
    assert not store.exists(loc) and store.exists(face)
    with pytest.raises(FileNotFoundError):
        with store.local_file(loc):
            pass
    store.delete_prefix("7")
    assert not store.exists(face)


def test_configured_by_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_MEDIA_STORE", str(tmp_path / "shared"))
    assert media_store().root == tmp_path / "shared"
    monkeypatch.delenv("FER_MEDIA_STORE")
    monkeypatch.setenv("FER_HOME", str(tmp_path))
    assert media_store().root == tmp_path / "media"


@needs_weights
def test_sessions_on_object_storage(s3_server, tmp_path, upload):
    from fer_core import Analyzer, AnalyzerConfig

    engine = make_engine(f"sqlite:///{tmp_path / 's3.db'}")
    upgrade(engine)
    store = S3Store(s3_server, cache_dir=tmp_path / "cache")
    analyzer = Analyzer(AnalyzerConfig())
    kept = ingest([upload[0], upload[3]], engine=engine, analyzer=analyzer, session_name="On S3", store=store)
    assert [f.status for f in kept.files] == ["done", "done"]
    with session_factory(engine)() as db:
        paths = db.scalars(select(MediaFile.stored_path)).all()
    assert all(p.startswith("s3://fer-media/team-a/") for p in paths)
    assert len(_objects(f"team-a/{kept.session_id}/")) == 2
    again = reanalyse_session(kept.session_id, engine=engine, analyzer=analyzer)  # reads the media back from S3
    assert [(f.status, f.faces) for f in again.files] == [("done", 1), ("done", 12)]
    faces = ingest([upload[2]], engine=engine, analyzer=analyzer, session_name="Faces on S3", keep="faces", store=store)
    with session_factory(engine)() as db:
        ids = db.scalars(select(FaceDetection.id).where(FaceDetection.session_id == faces.session_id)).all()
        assert _objects(f"team-a/{faces.session_id}/") == sorted(f"team-a/{face_key(faces.session_id, i)}" for i in ids)
        delete_session(db, session_id=kept.session_id, store=store)
        delete_session(db, session_id=faces.session_id, store=store)
    assert _objects("team-a/") == []

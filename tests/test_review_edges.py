"""Review, export and adaptation at their edges: unknown and deleted faces, two reviewers on one face at once
(SQLite and PostgreSQL), what the export ZIP holds under each privacy setting, adaptation on degenerate
populations (one person, one class, under 10 faces, all "unclear"), and a version worse than the original is
said to be."""

from __future__ import annotations

import io
import threading
import zipfile

import pytest
from sqlalchemy import func, select
from test_storage import _add_media, _fake_faces

from fer_core import adapt, service
from fer_core.cli import main
from fer_core.storage import queries as Q
from fer_core.storage.db import make_engine, session_factory, upgrade
from fer_core.storage.orm import FaceDetection, FaceReview

from conftest import needs_weights


@pytest.fixture
def engine(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FER_HOME", str(tmp_path))
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def _faces_of(engine, session_id) -> list[int]:
    with session_factory(engine)() as db:
        return list(db.scalars(select(FaceDetection.id).where(FaceDetection.session_id == session_id)))


def test_unknown_and_deleted_faces_are_refused_in_words(engine, capsys):
    with session_factory(engine)() as db:
        sid, _ = _add_media(db, "Gone soon", _fake_faces(3, label=3))
    face = _faces_of(engine, sid)[0]
    assert main(["review", "set", "999999", "happy", "--reviewer", "Mia"]) == 1
    assert "no face 999999" in capsys.readouterr().err
    service.delete_session(sid, engine=engine)
    assert main(["review", "set", str(face), "happy", "--reviewer", "Mia"]) == 1
    err = capsys.readouterr().err
    assert f"no face {face}" in err and "Traceback" not in err
    with pytest.raises(ValueError, match="no face"):  # all or nothing: the good one is not stored either
        service.review_faces([(face, "happy"), (999999, "sad")], reviewer="Mia", engine=engine)
    with session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(FaceReview)) == 0


def test_two_reviewers_on_one_face_at_once_leave_one_review(engine):
    with session_factory(engine)() as db:
        sid, _ = _add_media(db, "Shared", _fake_faces(4, label=3))
    faces = _faces_of(engine, sid)
    errors, start = [], threading.Barrier(8)

    def reviewer(name: str, label: str) -> None:
        start.wait()
        try:
            for face in faces:
                service.review_faces([(face, label)], reviewer=name, engine=engine)
        except Exception as exc:  # noqa: BLE001 (any failure is the finding)
            errors.append(exc)

    threads = [threading.Thread(target=reviewer, args=(f"R{i}", ("happy", "sad")[i % 2])) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors, errors
    with session_factory(engine)() as db:
        rows = db.execute(select(FaceReview.detection_id, FaceReview.label, FaceReview.reviewer)).all()
    assert sorted(r.detection_id for r in rows) == sorted(faces)  # one review a face, the latest
    assert all(r.label in ("happy", "sad") for r in rows)


def _population(engine, *, tag: str, people: int, each: int, labels=("happy", "sad")) -> None:
    """``people`` participants (one photo each, one person in it), ``each`` faces each, reviewed in turn with
    ``labels``."""
    for p in range(people):
        with session_factory(engine)() as db:
            sid, _ = _add_media(db, f"{tag} {p}", _fake_faces(each, label=3, track=0), tags=[tag])
        faces = _faces_of(engine, sid)
        service.review_faces([(f, labels[i % len(labels)]) for i, f in enumerate(faces)], reviewer="Mia", engine=engine)


@needs_weights
def test_degenerate_populations_get_a_clear_message_and_no_version(engine, capsys):
    _population(engine, tag="unclear", people=3, each=6, labels=("unclear", "not_a_face"))
    _population(engine, tag="one-person", people=1, each=20)
    _population(engine, tag="few", people=3, each=3)
    _population(engine, tag="one-class", people=3, each=6, labels=("happy",))
    expected = {
        "unclear": "no reviewed face with an emotion",
        "one-person": "at least 2 participants",
        "few": "at least 10 reviewed faces",
        "one-class": "is happy",
    }
    for tag, message in expected.items():
        assert main(["adapt", "--tag", tag]) == 1, tag
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (tag, err)
    assert Q.adapted_versions(engine).empty  # no version was made


def test_a_version_worse_than_the_original_says_so():
    card = {"cv_accuracy": {"ensemble": 52.0}, "baseline_accuracy": {"ensemble": 56.0}}
    assert adapt.verdict(card).startswith("worse than the original") and "keep the original" in adapt.verdict(card)
    card["cv_accuracy"]["ensemble"] = 56.5
    assert adapt.verdict(card).startswith("no better")
    card["cv_accuracy"]["ensemble"] = 76.0
    assert adapt.verdict(card).startswith("better")


@needs_weights
@pytest.mark.parametrize("keep", ["media", "faces", "none"])
def test_the_export_holds_face_pictures_only_where_the_session_kept_them(group_photo, tmp_path, monkeypatch, keep):
    from fer_core import Analyzer, AnalyzerConfig

    url = f"sqlite:///{tmp_path / 'fer.db'}"
    monkeypatch.setenv("FER_HOME", str(tmp_path))
    monkeypatch.setenv("FER_MEDIA_STORE", str(tmp_path / "store"))
    engine = make_engine(url)
    upgrade(engine)
    summary = service.ingest(
        [group_photo[0]], engine=engine, analyzer=Analyzer(AnalyzerConfig()), session_name="p", keep=keep
    )
    faces = _faces_of(engine, summary.session_id)
    service.review_faces([(f, "happy") for f in faces], reviewer="Mia", engine=engine)
    names = zipfile.ZipFile(io.BytesIO(service.export_reviews(engine=engine, session_id=summary.session_id)))
    pictures = [n for n in names.namelist() if n.startswith("faces/")]
    assert "reviews.csv" in names.namelist()
    assert len(pictures) == (0 if keep == "none" else len(faces))
    monkeypatch.setenv("FER_BLUR_FACES", "1")  # faces pixelated on this server: no picture leaves it
    blurred = zipfile.ZipFile(io.BytesIO(service.export_reviews(engine=engine, session_id=summary.session_id)))
    assert blurred.namelist() == ["reviews.csv"]
    engine.dispose()

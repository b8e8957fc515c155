from datetime import datetime

import pytest
from streamlit.testing.v1 import AppTest

from fer_core.db import make_engine, session_factory, upgrade

from conftest import REPO, needs_weights
from test_storage import _add_media, _fake_faces

HOME = str(REPO / "dashboard" / "Home.py")


@pytest.fixture(autouse=True)
def fresh_database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'dash.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    from resources import get_engine

    get_engine.clear()  # the cached engine belongs to the previous test's database
    return url


def test_home_on_an_empty_database_leads_the_way():
    at = AppTest.from_file(HOME, default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Feedback emotions"
    assert "No sessions yet" in at.info[0].value
    table = at.dataframe[-1].value
    assert list(table["model"]) == ["resnet50", "vgg16"]


def test_home_shows_sessions_ingested_elsewhere(fresh_database):
    engine = make_engine(fresh_database)
    upgrade(engine)
    with session_factory(engine)() as db:
        _add_media(db, "<b>Store panel</b>", _fake_faces(4, label=3), recorded_at=datetime(2026, 11, 2))
    at = AppTest.from_file(HOME, default_timeout=60).run()
    assert not at.exception
    assert [m.value for m in at.metric][:3] == ["1", "1", "4"]
    sessions = at.dataframe[0].value
    assert list(sessions["name"]) == ["<b>Store panel</b>"]  # user text shown as text


@needs_weights
def test_home_analyzes_an_uploaded_photo(group_photo):
    path, spots = group_photo
    at = AppTest.from_file(HOME, default_timeout=300).run()
    at.file_uploader[0].upload(path.name, path.read_bytes(), mime_type="image/jpeg")
    at.run()
    assert not at.exception
    assert any("face(s) found" in t.value for t in at.text)
    assert len(at.dataframe[-1].value) >= 3 * len(spots)


def test_home_reports_a_broken_upload():
    at = AppTest.from_file(HOME, default_timeout=300).run()
    at.file_uploader[0].upload("broken.png", b"not really a png", mime_type="image/png")
    at.run()
    assert not at.exception
    assert at.error and "broken.png" in at.error[0].value

"""Every dashboard page through Streamlit's AppTest, on a fresh database per test."""

import time
from datetime import datetime

import numpy as np
import pytest
import streamlit as st
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest
from test_storage import _add_media, _fake_faces

from fer_core.constants import EMOTIONS
from fer_core.storage.db import make_engine, session_factory, upgrade
from fer_core.storage.orm import FeedbackSession, MediaFile

from conftest import REPO, needs_weights, page_tables

HOME = str(REPO / "dashboard" / "router.py")


@pytest.fixture(autouse=True)
def fresh_database(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'dash.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FER_HOME", str(tmp_path))
    monkeypatch.delenv("FER_DASHBOARD_PASSWORD_SHA256", raising=False)
    from resources import get_engine, get_runner

    get_engine.clear()  # the cached engine, runner and reads belong to the previous test's database
    get_runner.clear()
    st.cache_data.clear()
    return url


@pytest.fixture
def filled(fresh_database):
    engine = make_engine(fresh_database)
    upgrade(engine)
    with session_factory(engine)() as db:
        a, media = _add_media(
            db,
            "<b>Store panel</b>",
            _fake_faces(6, label=3) + _fake_faces(2, label=4, t0=3),
            recorded_at=datetime(2026, 11, 2),
            tags=["store-12"],
        )
        b, _ = _add_media(
            db, "Support call", _fake_faces(4, label=0, other=2), recorded_at=datetime(2026, 11, 9), tags=["support"]
        )
    return {"engine": engine, "a": a, "b": b}


def page(name: str | None = None, timeout: int = 120) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=timeout).run()
    if name:
        at.switch_page(f"views/{name}.py").run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def charts_of(at: AppTest) -> list:
    return at.get("plotly_chart")


def test_home_on_an_empty_database_leads_the_way():
    at = page()
    assert at.title[0].value == "Feedback emotions"
    assert "No sessions yet" in at.info[0].value
    assert list(page_tables(at)[-1]["model"]) == ["resnet50", "vgg16"]


def test_home_shows_sessions_ingested_elsewhere(filled):
    at = page()
    assert [m.value for m in at.metric][:4] == ["2", "2", "2", "12"]  # sessions, media, people, readings
    links = [link.proto for link in at.get("page_link")]
    labels = [link.label for link in links if "session=" in link.page or "session" in link.query_string]
    assert labels == ["Support call", "\\<b\\>Store panel\\</b\\>"], links  # newest first; user text as text
    assert len(charts_of(at)) == 1  # satisfaction over recent weeks
    said = " ".join(c.value for c in at.caption)
    assert "Recorded from 2026-11-02 to 2026-11-09." in said  # the whole span, not cut in a narrow metric
    assert "1 file · 1 person seen" in said and "people seen" not in said.replace("2 people seen", "")


def test_a_link_opens_its_session(filled):
    at = AppTest.from_file(HOME, default_timeout=120)
    at.query_params["session"] = str(filled["a"])
    at.run()
    at.switch_page("views/session.py").run()
    assert not at.exception and at.selectbox[0].value == filled["a"]


def test_empty_pages_say_what_to_do():
    for name in ("session", "trends", "manage"):
        at = page(name)
        assert at.info and "No sessions yet" in at.info[0].value


def test_session_page(filled):
    at = page("session")
    assert at.selectbox[0].value == filled["b"]  # newest first
    at.selectbox[0].select(filled["a"]).run()
    assert not at.exception
    assert "tags\\: store\\-12" in at.caption[0].value  # the session's details at the top (Markdown-escaped)
    assert page_tables(at)[0]["file"].tolist() == ["clip.mp4"]  # human names for columns
    assert len(charts_of(at)) >= 1 and any("report" in b.label for b in at.get("download_button"))
    for name in ("Videos", "Photos", "People", "Segments", "Faces"):
        at.radio(key=f"section-{filled['a']}").set_value(name).run()
        assert not at.exception, (name, at.exception)


def test_session_page_markers_people_and_segments(filled):
    at = page("session")
    at.selectbox[0].select(filled["a"]).run()
    at.radio(key=f"section-{filled['a']}").set_value("Videos").run()
    assert len(charts_of(at)) >= 2  # timeline and satisfaction
    at.number_input[0].set_value(0.5)
    at.number_input[1].set_value(2.0)
    at.text_input[0].input("intro")
    button(at, "Add marker").click().run()
    assert not at.exception and not at.error
    at.number_input[0].set_value(3.0)
    at.text_input[0].input("price shown")
    button(at, "Add marker").click().run()
    from fer_core.storage import queries as Q

    marks = Q.markers(filled["engine"], session_id=filled["a"])
    assert list(marks["label"]) == ["intro", "price shown"] and marks["end_s"].isna().tolist() == [False, True]
    assert "intro" in page_tables(at)[0]["label"].tolist()  # listed under the charts
    shapes = [c.proto.spec for c in charts_of(at)]
    assert any("intro" in spec and "price shown" in spec for spec in shapes)  # shown on the timelines

    at.radio(key=f"section-{filled['a']}").set_value("People").run()
    assert not at.exception
    people = page_tables(at)[0]
    assert people["person"].tolist() == ["clip.mp4 #1"] and people["happy"].str.endswith("]").all()  # intervals
    at.multiselect[0].select("clip.mp4 #1")
    at.text_input[0].input("Anna")
    button(at, "Give them this name").click().run()
    assert not at.exception
    assert page_tables(at)[0]["person"].tolist() == ["Anna"]

    at.radio(key=f"section-{filled['a']}").set_value("Segments").run()
    assert not at.exception
    seg = page_tables(at)[0]
    assert seg["segment"].tolist() == ["intro (0.5-2 s)"] and seg["people"].tolist() == ["1"]
    at.toggle(key=f"baseline-{filled['a']}").set_value(True).run()
    assert not at.exception
    assert "not shares" in at.info[0].value and page_tables(at)[0]["happy"].str.contains("pp").all()
    button(at, "Play this segment").click().run()  # the player is in Videos: the page goes there, at 0.5 s
    assert not at.exception and at.radio(key=f"section-{filled['a']}").value == "Videos"
    assert at.session_state["play_from"][1] == 0.5


def test_session_page_imports_markers_from_csv_and_says_what_it_left_out(filled):
    at = page("session")
    at.selectbox[0].select(filled["a"]).run()
    at.radio(key=f"section-{filled['a']}").set_value("Videos").run()
    csv = b"file,start_s,end_s,label\nclip.mp4,0,1.5,intro\nclip.mp4,2,,logo\nelsewhere.mp4,1,2,lost\n"
    at.file_uploader[0].upload("markers.csv", csv, mime_type="text/csv")
    at.run()
    button(at, "Import these markers").click().run()
    assert not at.exception
    assert "2 markers imported" in at.success[0].value
    assert len(at.warning) == 1 and "elsewhere" in at.warning[0].value
    at.run()
    markers = page_tables(at)[0]
    assert markers["label"].tolist() == ["intro", "logo"]
    assert markers["until (s)"].tolist() == ["1.5", ""] and markers["from (s)"].tolist() == ["0.0", "2.0"]  # no None


def _true_labels(at):
    return [s for s in at.selectbox if s.label == "True expression"]


def test_review_page_stores_reviews_and_compare_scores_them(filled):
    at = page("review")
    assert not at.exception
    at.toggle(key="review-moments").set_value(False).run()  # one card per face
    assert len(_true_labels(at)) == 4  # the latest session's faces first, each control under its picture
    at.selectbox(key="review-session").select(0).run()  # all sessions
    at.text_input(key="reviewer").input("Mia")
    # the first two faces of the page: one happy, one not a face
    faces = _true_labels(at)
    assert len(faces) == 12
    faces[0].select("happy")
    faces[1].select("not_a_face")
    button(at, "Save these reviews").click().run()
    assert not at.exception and "2 faces reviewed" in at.success[0].value
    from fer_core.storage import queries as Q

    reviewed = Q.reviewed_faces(filled["engine"])
    assert sorted(reviewed["review"]) == ["happy", "not_a_face"] and set(reviewed["reviewer"]) == {"Mia"}
    at.switch_page("views/compare.py").run()
    assert not at.exception
    scored = next(d for d in page_tables(at) if "accuracy on your faces" in d.columns)
    right = int((reviewed[reviewed.review == "happy"]["label_ensemble"] == "happy").sum())
    assert scored["accuracy on your faces"].iloc[0].startswith(f"{100 * right:.1f}%")  # ensemble first, n = 1
    at.switch_page("views/review.py").run()
    at.text_input(key="reviewer").input("")
    _true_labels(at)[-1].select("sad")  # reviewed faces are hidden now
    button(at, "Save these reviews").click().run()
    assert at.error and "reviewer" in at.error[0].value  # a review needs a name; nothing saved
    assert sorted(Q.reviewed_faces(filled["engine"])["review"]) == ["happy", "not_a_face"]
    # one reviewed face only: adaptation says why it cannot be measured, and changes nothing
    at.selectbox(key="adapt-tag").select("store-12").run()
    button(at, "Adapt to this tag").click().run()
    assert not at.exception and at.error and "at least 10 reviewed faces" in at.error[0].value
    at.radio(key="adapt-method").set_value("finetune").run()  # fine-tuning needs pictures; these kept none
    button(at, "Adapt to this tag").click().run()
    assert not at.exception and at.error and "calibrate instead" in at.error[0].value


def test_a_persons_consecutive_frames_are_reviewed_once(filled):
    """Issue 42, item 6: a card per moment of a person; its label is stored for each of its faces."""
    from fer_core.storage import queries as Q

    at = page("review")
    at.selectbox(key="review-session").select(0).run()  # all sessions
    at.text_input(key="reviewer").input("Noor")
    count = next(c.value for c in at.caption if " cards for " in c.value)  # "N cards for M faces."
    cards, faces = int(count.split(" card")[0]), int(count.split(" for ")[1].split(" face")[0])
    assert cards < faces
    where = [c.value for c in at.caption if c.value.lstrip("\\").startswith("#")]  # one per card, in order
    card = next((i for i, c in enumerate(where) if " frames" in c), None)
    assert card is not None, (count, where)
    frames = int(where[card].split(" frames")[0].split(", ")[-1])
    before = len(Q.reviewed_faces(filled["engine"]))
    _true_labels(at)[card].select("surprise")
    button(at, "Save these reviews").click().run()
    assert not at.exception and f"{frames} faces reviewed" in at.success[0].value
    reviewed = Q.reviewed_faces(filled["engine"])
    assert len(reviewed) == before + frames and (reviewed["review"] == "surprise").sum() == frames


def test_trends_page(filled):
    at = page("trends")
    assert len(charts_of(at)) == 1  # one chart at a time (issue 42, item 7): the emotion shares first
    for view in ("Satisfaction", "Sessions side by side"):
        at.button_group(key="trends-view").set_value(view).run()
        assert not at.exception and len(charts_of(at)) == 1
    at.multiselect[0].select("support").run()
    assert not at.exception


def test_pages_read_from_a_cache_that_sees_writes_from_other_processes(fresh_database):
    at = page()
    assert "No sessions yet" in at.info[0].value
    engine = make_engine(fresh_database)  # another process's writes: no page clears the cache for them
    with session_factory(engine)() as db:
        _add_media(db, "Written elsewhere", _fake_faces(3, label=3))
    time.sleep(1.1)  # the data's stamp is read at most once a second
    at = page()
    assert [m.value for m in at.metric][:2] == ["1", "1"]


def test_compare_page(filled, capsys):
    at = page("compare")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Faces seen by both models"] == "12" and metrics["Same top label"] == "66.7%"
    assert len(charts_of(at)) == 1  # the groups' comparison; the models' charts on demand (issue 42, item 7)
    at.button_group(key="model-chart").set_value("ResNet50 against VGG16").run()
    assert not at.exception and len(charts_of(at)) == 2
    # two sessions side by side: one person each, so units are blocks of readings; every measure has a row
    compared = page_tables(at)[0]
    assert compared["measure"].tolist() == [*EMOTIONS, "satisfaction"]
    assert compared["A - B [95% interval]"].str.contains("pp").sum() == 7
    assert not compared["A - B [95% interval]"].str.startswith("'").any()  # the CSV guard stays in CSV files
    said = " ".join(c.value.replace("\\", "") for c in at.caption)  # as shown, Markdown escapes undone
    assert "blocks" in said and "exactly when the 95% interval leaves out 0" in said
    assert "Shares: raw mean probabilities, not corrected" in said and at.toggle[0].disabled and not at.toggle[0].value
    import json

    from fer_core.cli import main

    main(["compare", "--sessions", "Support call", "<b>Store panel</b>"])  # the page: A the newest session
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["measure"] for r in lines] == compared["measure"].tolist()
    page_diffs = [float(v.split(" ")[0]) for v in compared["A - B [95% interval]"]]
    cli_diffs = [100 * r["diff"] if r["measure"] != "satisfaction" else r["diff"] for r in lines]
    np.testing.assert_allclose(cli_diffs, page_diffs, atol=0.051)
    for r in lines:
        low, high = r["ci95"]
        assert r["p"] is None or (r["p"] < 0.05) == (low > 0 or high < 0)
    at.radio(key="group-kind").set_value("tags").run()
    assert not at.exception and page_tables(at)[0]["measure"].tolist()[-1] == "satisfaction"
    at.radio(key="group-kind").set_value("segments").run()
    assert not at.exception and "needs at least two" in at.info[0].value


def test_manage_renames_and_deletes(filled):
    at = page("manage")
    at.selectbox[0].select(filled["a"]).run()
    at.text_input[0].set_value("Renamed panel")
    [b for b in at.button if b.label == "Save"][0].click().run()
    assert not at.exception
    with session_factory(filled["engine"])() as db:
        assert db.get(FeedbackSession, filled["a"]).name == "Renamed panel"
    at = page("manage")
    at.selectbox[0].select(filled["a"]).run()
    delete = [b for b in at.button if b.label == "Delete session"][0]
    assert delete.disabled
    at.text_input(key="confirm-delete").set_value("Renamed panel").run()
    [b for b in at.button if b.label == "Delete session"][0].click().run()
    assert not at.exception
    with session_factory(filled["engine"])() as db:
        assert db.get(FeedbackSession, filled["a"]) is None
        assert db.scalar(select(func.count()).select_from(MediaFile)) == 1


@needs_weights
def test_upload_page_analyses_photos_and_reports_a_broken_file(group_photo, fresh_database):
    path, spots = group_photo
    at = page("upload", timeout=600)
    at.text_input[0].set_value("Panel from upload")
    at.file_uploader[0].upload(path.name, path.read_bytes(), mime_type="image/jpeg")
    at.file_uploader[0].upload("broken.png", b"not really a png", mime_type="image/png")
    [b for b in at.button if b.label == "Analyse"][0].click().run()
    assert not at.exception
    outcome = page_tables(at)[0]
    assert outcome["file"].tolist() == [path.name, "broken.png"]
    assert outcome["status"].tolist() == ["done", "failed"]
    assert int(outcome["face readings"].iloc[0]) >= len(spots)
    assert at.warning and "1 file" in at.warning[0].value
    assert len(at.get("imgs")) >= 1 or len(at.get("image")) >= 1
    # each file was a job: the Jobs page lists both, and offers the failed one for a retry
    at.switch_page("views/jobs.py").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric} == {"Queued": "0", "Running": "0", "Done": "1", "Failed": "1"}
    assert sorted(at.dataframe[0].value["file"]) == sorted([path.name, "broken.png"])
    assert at.multiselect[0].value and "broken.png" in at.multiselect[0].options[0]
    [b for b in at.button if b.label == "Retry"][0].click().run()
    assert not at.exception
    assert at.warning and "1 failed again" in at.warning[0].value


@needs_weights
def test_upload_page_takes_an_iphone_heic_close_up(faces, fresh_database, tmp_path):
    """An iPhone photo (HEIC) in which the face fills the frame: chosen in the uploader, found and stored."""
    import cv2
    import numpy as np
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    face = cv2.resize(faces[0], (560, 560), interpolation=cv2.INTER_CUBIC)
    photo = cv2.copyMakeBorder(face, 20, 20, 20, 20, cv2.BORDER_REPLICATE)  # the face fills 93% of it
    path = tmp_path / "IMG_0042.HEIC"
    Image.fromarray(np.repeat(photo[..., None], 3, axis=2)).save(path, format="HEIF", quality=90)
    at = page("upload", timeout=600)
    at.text_input[0].set_value("Selfies")
    at.file_uploader[0].upload(path.name, path.read_bytes(), mime_type="image/heic")
    [b for b in at.button if b.label == "Analyse"][0].click().run()
    assert not at.exception
    outcome = page_tables(at)[0]
    assert outcome["status"].tolist() == ["done"] and outcome["face readings"].tolist() == ["1"]
    assert outcome["people seen"].tolist() == ["1"]
    assert len(at.get("imgs")) >= 1 or len(at.get("image")) >= 1  # shown with its box


def test_login_when_a_password_is_set(monkeypatch):
    import hashlib

    monkeypatch.setenv("FER_DASHBOARD_PASSWORD_SHA256", hashlib.sha256(b"s3cret").hexdigest())
    at = AppTest.from_file(HOME, default_timeout=60).run()  # a run without the gate's login header
    assert not at.exception and not at.metric and not at.text_input  # no page, and no password asked here
    assert "You are logged out." in at.info[0].value  # the login form is the gate's (tests/test_login.py)


def test_photo_rows_show_blanks_not_none(fresh_database):
    from sqlalchemy import update

    engine = make_engine(fresh_database)
    upgrade(engine)
    with session_factory(engine)() as db:
        _, photo = _add_media(db, "Photos", _fake_faces(2, label=3))
        db.execute(update(MediaFile).where(MediaFile.id == photo).values(kind="photo", duration_s=None, error=None))
        db.commit()
    files = page_tables(page("session"))[0]
    assert files["duration (s)"].tolist() == [""] and files["problem"].tolist() == [""]
    assert "None" not in files.astype(str).to_numpy().ravel().tolist()

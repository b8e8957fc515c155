"""People, not frames: a video's face track is one person seen, and per-person shares do not depend on how
often the video is sampled."""

from __future__ import annotations

import pytest

from fer_core import Analyzer, AnalyzerConfig
from fer_core.service import ingest
from fer_core.storage import queries as Q
from fer_core.storage.db import make_engine, upgrade

from conftest import background, needs_weights, paste, write_video


@pytest.fixture(scope="module")
def two_people_clip(tmp_path_factory, faces):
    """14 s at 10 fps, 640x360. On the left, one person all along whose face (expression) changes at 5 s and
    at 10 s; on the right, another person from 0 to 4 s, gone from 4 to 8 s, back from 8 to 11 s."""
    frames = []
    for i in range(140):
        t = i / 10
        img = background(360, 640, seed=4)
        paste(img, faces[6] if t < 5 else faces[7] if t < 10 else faces[8], 60, 90, 170)
        if t < 4 or 8 <= t < 11:
            paste(img, faces[9], 400, 80, 150)
        frames.append(img)
    return write_video(tmp_path_factory.mktemp("people") / "two people.mp4", frames, 10)


@needs_weights
def test_sampling_more_often_changes_neither_the_people_nor_their_shares(tmp_path, two_people_clip):
    shares, people, readings = {}, {}, {}
    for fps in (2, 4):
        engine = make_engine(f"sqlite:///{tmp_path / f'fps{fps}.db'}")
        upgrade(engine)
        summary = ingest(
            [two_people_clip],
            engine=engine,
            analyzer=Analyzer(AnalyzerConfig(fps=fps)),
            session_name="panel",
            keep="none",
            media_root=tmp_path / f"media{fps}",
        )
        (outcome,) = summary.files
        # the left person is one track; the right person, away for 4 s, is seen twice
        assert outcome.status == "done" and outcome.people == 3
        people[fps], readings[fps] = outcome.people, outcome.faces
        dist = Q.emotion_distribution(engine, per="person")
        shares[fps] = dist[dist.model == "ensemble"].set_index("emotion")["mean_prob"]
        assert shares[fps].sum() == pytest.approx(1.0, abs=1e-6)
        assert Q.totals(engine)["people"] == 3
        listed = Q.people(engine, model="ensemble")
        assert len(listed) == 3
        engine.dispose()
    assert readings[4] >= 1.8 * readings[2]  # twice the readings ...
    assert (shares[4] - shares[2]).abs().max() < 0.03, (shares[2], shares[4])  # ... the same shares per person


@needs_weights
def test_per_person_and_per_reading_shares_differ_when_screen_time_differs(tmp_path, two_people_clip):
    engine = make_engine(f"sqlite:///{tmp_path / 'fer.db'}")
    upgrade(engine)
    ingest(
        [two_people_clip],
        engine=engine,
        analyzer=Analyzer(AnalyzerConfig(fps=2)),
        session_name="panel",
        keep="none",
        media_root=tmp_path / "media",
    )
    per_person = Q.emotion_distribution(engine, per="person")
    per_reading = Q.emotion_distribution(engine, per="reading")
    assert "people" in per_person.columns and "faces" in per_reading.columns
    people = Q.people(engine, model="ensemble")
    expected = people[[c for c in per_person.emotion.unique()]].mean()  # the mean over people
    got = per_person[per_person.model == "ensemble"].set_index("emotion")["mean_prob"]
    assert (got - expected[got.index]).abs().max() < 1e-9
    weighted = people[list(got.index)].mul(people["readings"], axis=0).sum() / people["readings"].sum()
    reading = per_reading[per_reading.model == "ensemble"].set_index("emotion")["mean_prob"]
    assert (reading - weighted[reading.index]).abs().max() < 1e-6
    engine.dispose()

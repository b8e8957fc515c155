"""Who counts: a session's participant against bystanders, on real analysed media (issue 42, item 1)."""

from __future__ import annotations

import json
import os

import cv2
import pytest

from fer_core import Analyzer, AnalyzerConfig, service
from fer_core.cli import main
from fer_core.storage.db import make_engine, upgrade

from conftest import PG_URL, ScratchPostgres, background, db_backends, needs_weights, paste, write_video


@pytest.fixture(scope="module", params=list(db_backends()))
def interview(request, tmp_path_factory, faces):
    """P7's interview (8 s: P7 on the left all along, an interviewer on the right for the last 3 s) and a
    panel photo of five strangers, analysed into a session whose participant is P7."""
    d = tmp_path_factory.mktemp("roles")
    frames = []
    for i in range(80):
        img = background(360, 640, seed=4)
        paste(img, faces[6], 60, 90, 170)
        if i >= 50:
            paste(img, faces[9], 400, 80, 150)
        frames.append(img)
    video = write_video(d / "interview.mp4", frames, 10)
    photo = background(900, 1600, seed=8)
    for k, x in enumerate((40, 340, 640, 940, 1240)):
        paste(photo, faces[10 + k], x, 300, 250)
    cv2.imwrite(str(d / "panel.jpg"), photo)
    pg = None
    if request.param == "sqlite":
        url = f"sqlite:///{d / 'fer.db'}"
    else:
        pg = ScratchPostgres(PG_URL)
        url = pg.url
    engine = make_engine(url)
    upgrade(engine)
    summary = service.ingest(
        [video, d / "panel.jpg"],
        engine=engine,
        analyzer=Analyzer(AnalyzerConfig(fps=2)),
        session_name="P7 interview",
        participant="P7",
        keep="none",
    )
    assert [f.status for f in summary.files] == ["done", "done"]
    yield engine, url, summary.session_id
    engine.dispose()
    if pg:
        pg.drop()


def _cli(url, *argv, capsys):
    os.environ["DATABASE_URL"] = url
    try:
        rc = main([str(a) for a in argv])
    finally:
        del os.environ["DATABASE_URL"]
    out, err = capsys.readouterr()
    return rc, [json.loads(line) for line in out.splitlines() if line.strip()], err


@needs_weights
def test_the_participant_counts_and_bystanders_only_when_asked(interview, capsys):
    engine, url, session_id = interview
    rc, people, _ = _cli(url, "people", "list", "--session", "P7 interview", capsys=capsys)
    assert rc == 0
    roles = {(p["file"], p["role"]) for p in people}
    p7 = [p for p in people if p["role"] == "participant"]
    assert len(p7) == 1 and p7[0]["file"] == "interview.mp4" and p7[0]["readings"] == 16  # 8 s at 2 a second
    photo = [p for p in people if p["file"] == "panel.jpg"]
    assert len(photo) >= 5 and roles == {
        ("interview.mp4", "participant"),
        ("interview.mp4", "other"),
        ("panel.jpg", "other"),
    }

    rc, (alone,), _ = _cli(url, "summary", "--session", "P7 interview", "--by", "session", capsys=capsys)
    assert rc == 0 and alone["counts"] == "participants" and alone["session"] == "P7 interview"
    assert alone["people"] == 1 and alone["readings"] == 16
    assert sum(alone["shares"].values()) == pytest.approx(1, abs=1e-3) and set(alone["ci95"]) >= set(alone["shares"])
    rc, (everyone,), _ = _cli(
        url, "summary", "--session", "P7 interview", "--by", "session", "--everyone", capsys=capsys
    )
    assert everyone["counts"] == "everyone" and everyone["people"] == len(people)
    assert everyone["readings"] == sum(p["readings"] for p in people)
    assert everyone["shares"] != alone["shares"]
    assert _sql_people(engine, session_id, everyone=False) == 1  # the aggregates (Home, Trends) agree
    assert _sql_people(engine, session_id, everyone=True) == len(people)

    # a face on a poster counts nowhere; the interviewer made a participant counts by default
    poster, interviewer = photo[0], next(p for p in people if p["file"] == "interview.mp4" and p["role"] == "other")
    rc, out, _ = _cli(url, "people", "set-role", "--session", "P7 interview", "--role", "excluded",
                      "--person", poster["media_id"], poster["person"], capsys=capsys)  # fmt: skip
    assert rc == 0 and out == [{"people": 1, "role": "excluded"}]
    service.set_roles([(interviewer["media_id"], interviewer["person"])], "participant", engine=engine)
    rc, (after,), _ = _cli(url, "summary", "--session", "P7 interview", "--by", "session", "--everyone", capsys=capsys)
    assert after["people"] == len(people) - 1
    rc, (two,), _ = _cli(url, "summary", "--session", "P7 interview", "--by", "session", capsys=capsys)
    assert two["people"] == 2 and two["readings"] == 16 + interviewer["readings"]
    assert _sql_people(engine, session_id, everyone=False) == 2
    assert _sql_people(engine, session_id, everyone=True) == len(people) - 1
    from fer_core.storage import queries

    trend = queries.distribution_over_time(engine, per="person", everyone=False, model="ensemble")
    happy = trend[trend.emotion == "happy"]
    assert int(happy["people"].iloc[0]) == 2 and happy["share"].iloc[0] == pytest.approx(
        two["shares"]["happy"], abs=1e-3
    )

    rc, rows, err = _cli(url, "compare", "--sessions", "P7 interview", "P7 interview", capsys=capsys)
    assert rc == 0 and {r["counts"] for r in rows} == {"participants"} and rows[0]["people"] == [2, 2]
    rc, rows, _ = _cli(url, "compare", "--sessions", "P7 interview", "P7 interview", "--everyone", capsys=capsys)
    assert {r["counts"] for r in rows} == {"everyone"} and rows[0]["people"] == [len(people) - 1] * 2

    # a name keeps the role; back to the default takes it away
    service.name_people([(poster["media_id"], poster["person"])], "Poster", engine=engine)
    service.name_people([(poster["media_id"], poster["person"])], "", engine=engine)
    assert (
        next(p for p in service.people_roles(session_id, engine=engine) if p["person"] == poster["person"])["role"]
        == "excluded"
    )
    rc, _, _ = _cli(url, "people", "set-role", "--session", "P7 interview", "--role", "default",
                    "--person", poster["media_id"], poster["person"], capsys=capsys)  # fmt: skip
    service.set_roles([(interviewer["media_id"], interviewer["person"])], None, engine=engine)
    assert {(p["file"], p["role"]) for p in service.people_roles(session_id, engine=engine)} == roles

    from fer_core.report import session_report

    html = session_report(engine, session_id, fmt="html").decode()
    assert "Participants counted" in html and "1 (others seen: " in html
    assert "They count participants only: 1 person, 16 readings. Fewer than 3 people cannot speak for a group." in html


def _sql_people(engine, session_id, *, everyone):
    from fer_core.storage import queries

    dist = queries.emotion_distribution(engine, session_id=session_id, per="person", everyone=everyone)
    return int(dist[dist.model == "ensemble"]["people"].sum())

"""Teams and trust (issue 43, items 5-8): accounts and roles enforced at fer_core's door, the audit trail, and
a participant erased on request, searched for in every table and the media store afterwards."""

from __future__ import annotations

import io
import json
import os

import cv2
import pytest
from sqlalchemy import String, Text, cast, select

from fer_core import Analyzer, AnalyzerConfig, service
from fer_core.cli import main
from fer_core.storage.db import make_engine, upgrade
from fer_core.storage.orm import Base
from fer_core.trust import access

from conftest import PG_URL, ScratchPostgres, background, db_backends, needs_weights, paste, write_video


@pytest.fixture(scope="module", params=list(db_backends()))
def study(request, tmp_path_factory, faces):
    """Two sessions with P7: an interview video (P7, and an interviewer for the last 3 s) and a photo of P7
    alone, kept as media; and a second session keeping face pictures, where P7 is named in a panel photo."""
    d = tmp_path_factory.mktemp("teams")
    frames = []
    for i in range(60):
        img = background(360, 640, seed=4)
        paste(img, faces[6], 60, 90, 170)
        if i >= 30:
            paste(img, faces[9], 400, 80, 150)
        frames.append(img)
    video = write_video(d / "P7 interview.mp4", frames, 10)
    alone = background(480, 640, seed=3)
    paste(alone, faces[6], 200, 100, 220)
    cv2.imwrite(str(d / "p7.jpg"), alone)
    panel = background(600, 1200, seed=8)
    for k, x in enumerate((60, 460, 860)):
        paste(panel, faces[11 + k], x, 150, 250)
    cv2.imwrite(str(d / "panel.jpg"), panel)
    pg = None
    if request.param == "sqlite":
        url = f"sqlite:///{d / 'fer.db'}"
    else:
        pg = ScratchPostgres(PG_URL)
        url = pg.url
    engine = make_engine(url)
    upgrade(engine)
    media = d / "media"
    analyzer = Analyzer(AnalyzerConfig(fps=2))
    one = service.ingest(
        [video, d / "p7.jpg"], engine=engine, analyzer=analyzer, session_name="interviews", participant="P7",
        keep="media", media_root=media, tags=["store-12"],
    )  # fmt: skip
    two = service.ingest(
        [d / "panel.jpg"], engine=engine, analyzer=analyzer, session_name="panel", keep="faces", media_root=media
    )
    panel_people = service.people_roles(two.session_id, engine=engine)
    service.name_people([(panel_people[0]["media_id"], panel_people[0]["person"])], "P7", engine=engine)
    yield engine, url, media, one.session_id, two.session_id
    engine.dispose()
    if pg:
        pg.drop()


def _cli(url, media, *argv, capsys, stdin: str | None = None, monkeypatch=None):
    os.environ["DATABASE_URL"], os.environ["FER_MEDIA_STORE"] = url, str(media)
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        rc = main([str(a) for a in argv])
    finally:
        del os.environ["DATABASE_URL"], os.environ["FER_MEDIA_STORE"]
    out, err = capsys.readouterr()
    return rc, [json.loads(line) for line in out.splitlines() if line.strip()], err


@needs_weights
def test_roles_are_enforced_at_the_door_and_every_action_is_audited(study, capsys, monkeypatch):
    engine, url, media, sid, panel_sid = study
    for name, role in (("ada", "admin"), ("rob", "researcher"), ("vic", "viewer")):
        rc, out, err = _cli(url, media, "users", "add", name, "--role", role, stdin="a long password\n",
                            capsys=capsys, monkeypatch=monkeypatch)  # fmt: skip
        assert rc == 0, err
    rc, listed, _ = _cli(url, media, "users", "list", capsys=capsys)
    assert [(a["name"], a["role"]) for a in listed] == [("ada", "admin"), ("rob", "researcher"), ("vic", "viewer")]
    rc, _, err = _cli(url, media, "users", "add", "eve", "--role", "admin", stdin="short\n", capsys=capsys,
                      monkeypatch=monkeypatch)  # fmt: skip
    assert rc == 1 and "at least 8 characters" in err

    # a viewer reads and reports, and is refused everything else with one line, nothing changed
    rc, out, _ = _cli(url, media, "--as", "vic", "summary", "--session", "interviews", "--by", "session", capsys=capsys)
    assert rc == 0 and out[0]["people"] >= 1
    face = service.list_faces(engine=engine, session_id=sid)[0]["face_id"]
    for argv in (
        ("delete-session", "interviews"),
        ("review", "set", face, "happy"),
        ("erase", "--participant", "P7"),
        ("users", "add", "mallory", "--role", "admin"),
        ("audit",),
    ):
        rc, out, err = _cli(url, media, "--as", "vic", *argv, capsys=capsys)
        assert (
            rc == 4
            and out == []
            and err.strip() == f"error: vic is a viewer and may not {err.split('may not ')[1].strip()}"
        )
        assert len(err.strip().splitlines()) == 1
    rc, _, err = _cli(url, media, "--as", "nobody", "summary", "--session", "interviews", capsys=capsys)
    assert rc == 2 and "no account named 'nobody'" in err
    viewer, researcher = access.Actor("vic", "viewer", "test"), access.Actor("rob", "researcher", "test")
    refused = {
        "delete": lambda: service.delete_session(sid, engine=engine),
        "review": lambda: service.review_faces([(face, "sad")], engine=engine),
        "markers": lambda: service.add_marker(face, start_s=0, end_s=1, label="x", engine=engine),
        "edit": lambda: service.update_session(sid, engine=engine, name="renamed"),
        "roles": lambda: service.set_roles([(1, 1)], "excluded", engine=engine),
        "export": lambda: service.export_reviews(engine=engine, session_id=sid),
        "erase": lambda: service.erase_participant("P7", engine=engine),
        "adapt": lambda: service.adapt("store-12", engine=engine),
    }
    for action, call in refused.items():
        with access.acting_as(viewer), pytest.raises(access.NotAllowed):
            call()
    with access.acting_as(viewer):
        assert service.face_picture(_a_face_row(engine, sid), blur=False) is None
        assert "<img alt='face'" not in service.report(sid, engine=engine, fmt="html").decode()  # no face for a viewer
    assert "<img alt='face'" in service.report(sid, engine=engine, fmt="html").decode()
    with access.acting_as(researcher):
        for action in ("delete", "erase"):
            with pytest.raises(access.NotAllowed):
                refused[action]()
        assert service.review_faces([(face, "happy")], engine=engine, reviewer="someone else") == 1
        assert service.face_picture(_a_face_row(engine, sid), blur=False) is not None
    assert service.list_faces(engine=engine, session_id=sid)[0]["review"] == "happy"  # only rob's review
    rc, out, _ = _cli(url, media, "--as", "rob", "review", "list", "--session", "interviews", capsys=capsys)
    assert rc == 0

    rc, trail, _ = _cli(url, media, "--as", "ada", "audit", capsys=capsys)
    assert rc == 0 and all({"at", "who", "action", "session"} <= set(e) for e in trail)
    actions = [(e["who"], e["action"], e["session"]) for e in trail]
    assert (access.machine_user().name, "upload", sid) in actions
    assert ("rob", "review faces", None) in actions and ("ada", "account add", None) not in actions
    assert [e["target"] for e in trail if e["action"] == "account add"] == ["ada", "rob", "vic"]
    rc, mine, _ = _cli(url, media, "audit", "--who", "rob", capsys=capsys)
    assert {e["who"] for e in mine} == {"rob"}
    from fer_core.storage.queries import reviewed_faces

    assert set(reviewed_faces(engine, session_id=sid)["reviewer"]) == {"rob"}  # the account, not a typed name


# random salts and hashes, where "P7" may turn up by chance (base64)
SECRETS = {("user_account", "password_hash"), ("login_session", "token_sha256")}


def _a_face_row(engine, sid):
    from fer_core.storage import queries

    row = queries.readings(engine, session_id=sid).iloc[0]
    media = queries.session_media(engine, session_id=sid).set_index("id")
    return type("Row", (), {**row.to_dict(), "session_id": sid, "stored_path": media.loc[row.media_id, "stored_path"],
                            "kind": media.loc[row.media_id, "kind"]})  # fmt: skip


@needs_weights
def test_a_participant_erased_everywhere_with_a_receipt(study, capsys):
    engine, url, media, sid, panel_sid = study
    before = service.people_roles(sid, engine=engine)
    interviewer = [p for p in before if p["role"] == "other"]
    assert interviewer and len(service.people_roles(panel_sid, engine=engine)) == 3
    rc, (receipt,), err = _cli(url, media, "erase", "--participant", "P7", capsys=capsys)
    assert rc == 0, err
    assert receipt["participant"] == "P7" and receipt["sessions"] == [sid, panel_sid] and receipt["people"] == 3
    assert receipt["files_deleted"] == 1 and receipt["files_with_others"] == 2 and receipt["readings"] > 0
    assert receipt["face_pictures_deleted"] == 1 and receipt["stored_files_deleted"] == 2

    # no table but the audit trail holds the label; no file of theirs is left
    with engine.connect() as db:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if table.name == "audit_event" or (table.name, column.name) in SECRETS:
                    continue
                if not isinstance(column.type, (String, Text)) and column.type.__class__.__name__ != "JSON":
                    continue
                hits = db.execute(select(column).where(cast(column, Text).like("%P7%"))).all()
                assert not hits, f"{table.name}.{column.name} still holds P7: {hits}"
    left = sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file())
    assert len(left) == 2 and all(f"{panel_sid}/faces/" in f for f in left), left  # the two other panel faces
    after = service.people_roles(sid, engine=engine)
    assert [(p["media_id"], p["person"], p["readings"]) for p in after] == [
        (p["media_id"], p["person"], p["readings"]) for p in interviewer
    ]  # the interviewer's readings are kept
    assert len(service.people_roles(panel_sid, engine=engine)) == 2
    rc, trail, _ = _cli(url, media, "audit", "--action", "erase participant", capsys=capsys)
    assert trail[-1]["target"] == "P7" and trail[-1]["detail"]["readings"] == receipt["readings"]
    # one person on request too: the interviewer, now alone in what is left of the interview
    (left,) = after
    rc, (gone,), err = _cli(url, media, "erase", "--person", left["media_id"], left["person"], capsys=capsys)
    assert rc == 0, err
    assert gone["people"] == 1 and gone["readings"] == left["readings"] and gone["files_deleted"] == 1
    assert service.people_roles(sid, engine=engine) == []
    rc, _, err = _cli(url, media, "erase", "--person", left["media_id"], left["person"], capsys=capsys)
    assert rc == 1 and "no person" in err

"""`markers import` on the files researchers really have: encodings, separators, decimal commas, clock times,
bad rows (NaN, infinities, negative, end before start, unknown files, duplicates, formulas), huge files; each bad
row said, nothing half-imported, memory bounded. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select, update
from test_storage import _add_media, _fake_faces

from fer_core import markers, service
from fer_core.storage import queries as Q
from fer_core.storage.db import make_engine, session_factory, upgrade
from fer_core.storage.orm import MediaFile

from conftest import REPO

HEADER = "file,start_s,end_s,label\n"


@pytest.fixture
def session(database_url):
    """A session with one 60 s video, clip.mp4."""
    engine = make_engine(database_url)
    upgrade(engine)
    with session_factory(engine)() as db:
        sid, mid = _add_media(db, "Panel", _fake_faces(4, label=3))
        db.execute(update(MediaFile).where(MediaFile.id == mid).values(duration_s=60.0))
        db.commit()
    yield engine, database_url, sid
    engine.dispose()


def _marks(engine, sid):
    return Q.markers(engine, session_id=sid).sort_values("start_s")[["start_s", "end_s", "label"]]


def test_encodings_separators_and_clock_times(session):
    engine, _, sid = session
    files = {
        "utf8-bom": ("\ufeff" + HEADER + "clip.mp4,1.5,,café\n").encode("utf-8"),
        "utf16": (HEADER + "clip.mp4,2,3,naïve\n").encode("utf-16"),
        "latin1": (HEADER + "clip.mp4,4,,crème\n").encode("latin-1"),
        "semicolons": "file;start_s;end_s;label\nclip.mp4;5,5;6,25;price, shown\n".encode(),
        "tabs": "file\tstart_s\tend_s\tlabel\nclip.mp4\t0:07\t0:00:08.5\tclock\n".encode(),
        "reordered": "label,end_s,file,start_s\nlast,,clip.mp4,9\n".encode(),
    }
    for name, data in files.items():
        assert service.import_markers(sid, data, engine=engine) == {"imported": 1, "problems": []}, name
    marks = _marks(engine, sid)
    assert marks["label"].tolist() == ["café", "naïve", "crème", "price, shown", "clock", "last"]
    assert marks["start_s"].tolist() == [1.5, 2.0, 4.0, 5.5, 7.0, 9.0]
    assert marks["end_s"].fillna(-1).tolist() == [-1, 3.0, -1, 6.25, 8.5, -1]


def test_each_bad_row_is_said_and_the_good_ones_imported(session):
    engine, _, sid = session
    rows = [
        "clip.mp4,nan,,not a number",
        "clip.mp4,inf,,infinite",
        "clip.mp4,1,Infinity,infinite end",
        "clip.mp4,-1,,negative",
        "clip.mp4,5,4,end before start",
        "clip.mp4,70,,after the end",
        "other.mp4,1,,unknown file",
        "clip.mp4,1,,",
        'clip.mp4,2,,"=HYPERLINK(""http://evil.example"",""x"")"',
        "clip.mp4,3,4,twice",
        "clip.mp4,3,4,twice",
        "",
        'clip.mp4,10,,"quoted, with a comma"',
    ]
    result = service.import_markers(sid, (HEADER + "\n".join(rows) + "\n").encode(), engine=engine)
    assert result["imported"] == 3
    said = {int(p.split(":")[0].split()[1]): p for p in result["problems"]}
    assert sorted(said) == [2, 3, 4, 5, 6, 7, 8, 9, 12]
    assert "seconds" in said[2] and "seconds" in said[3] and "seconds" in said[5]
    assert "ends after it starts" in said[6] and "after the end" in said[7] and "other.mp4" in said[8]
    assert "label" in said[9] and "the same marker as row 11" in said[12]
    marks = _marks(engine, sid)
    assert marks["label"].tolist() == ['=HYPERLINK("http://evil.example","x")', "twice", "quoted, with a comma"]
    # the formula is kept as the researcher's text, and cannot run from the exported CSV
    from fer_core.exports import to_csv

    assert b"'=HYPERLINK" in to_csv(marks) and b",=HYPERLINK" not in to_csv(marks)
    again = service.import_markers(sid, (HEADER + rows[9] + "\n").encode(), engine=engine)
    assert again["imported"] == 0 and "already marked" in again["problems"][0]


def test_a_file_refused_whole_imports_nothing(session):
    engine, _, sid = session
    good = "clip.mp4,1,,fine\n"
    with pytest.raises(markers.MarkersFileError, match="more than 10,000 rows"):
        service.import_markers(sid, (HEADER + good * (markers.MAX_ROWS + 1)).encode(), engine=engine)
    with pytest.raises(markers.MarkersFileError, match="cannot be read as CSV"):
        service.import_markers(sid, (HEADER + good + 'clip.mp4,2,,"' + "x" * 200_000 + "\n").encode(), engine=engine)
    with pytest.raises(markers.MarkersFileError, match="missing: start_s"):
        service.import_markers(sid, b"file,begin,end_s,label\nclip.mp4,1,,x\n", engine=engine)
    assert Q.markers(engine, session_id=sid).empty  # nothing half-imported
    many_problems = service.import_markers(sid, (HEADER + "nope.mp4,1,,x\n" * 500).encode(), engine=engine)
    assert len(many_problems["problems"]) == markers.LISTED + 1
    assert many_problems["problems"][-1] == f"... and {500 - markers.LISTED} more rows not imported"


def test_a_million_rows_from_the_command_line_are_refused_in_bounded_memory(session, tmp_path):
    engine, url, sid = session
    big = tmp_path / "huge.csv"
    with open(big, "w") as f:
        f.write(HEADER)
        for i in range(1_000_000):
            f.write(f"clip.mp4,{i % 60},,m{i}\n")
    # the command in a child that reports its own peak memory when it ends (VmHWM: since its exec, unlike
    # ru_maxrss, which a child inherits from the test process it was forked from)
    peak = "import runpy, sys\ntry:\n    runpy.run_module('fer_core', run_name='__main__')\nfinally:\n"
    peak += "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
    peak += "    print('peak', hwm, file=sys.stderr)"
    out = subprocess.run(
        [sys.executable, "-c", peak, "markers", "import", "--session", "Panel", str(big)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": url},
        timeout=300,
    )
    peak_mb = int(out.stderr.rsplit("peak", 1)[1]) / 1024
    assert out.returncode == 1 and "at most 5 MB" in out.stderr and "Traceback" not in out.stderr
    assert peak_mb < 500, peak_mb  # the 17 MB file is refused before it is read
    assert Q.markers(engine, session_id=sid).empty
    small = tmp_path / "ok.csv"
    small.write_text(HEADER + "clip.mp4,1,,fine\n")
    out = subprocess.run(
        [sys.executable, "-m", "fer_core", "markers", "import", "--session", "Panel", str(small)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": url},
        timeout=300,
    )
    assert out.returncode == 0 and json.loads(out.stdout) == {"imported": 1}
    with session_factory(engine)() as db:
        assert db.scalar(select(MediaFile.id)) is not None

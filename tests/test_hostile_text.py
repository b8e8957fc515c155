"""Hostile text in every name and note (HTML, script, Markdown links and images, LaTeX, Streamlit directives,
very long words, right-to-left text, control and bidirectional override characters, emoji): the report (PDF
and HTML) and every page show it as text, nothing of it runs or links, and it stays inside the margins."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import streamlit as st

from fer_core import Analyzer, AnalyzerConfig, report, service
from fer_core.storage import queries as Q
from fer_core.storage.db import make_engine, upgrade

from conftest import REPO, needs_weights

LONG = "W" * 250  # one word far wider than a page
HOSTILE = (
    "<script>alert(1)</script> [click](javascript:alert(1)) ![pixel](http://127.0.0.1:9/p.png) "
    ":red[red] $x^2$ **bold** <b>b</b> \u202eevil\u202c \x1b[31m\x07 שלום مرحبا 王小明 김민준 😀 \U0001fae8 " + LONG
)
LINK_SHAPES = ("](javascript", "](http://127.0.0.1:9", "<script>", "<b>b</b>")
pytestmark = needs_weights


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, two_face_video):
    tmp = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{tmp / 'fer.db'}"
    engine = make_engine(url)
    upgrade(engine)
    clip = tmp / "clip.mp4"
    shutil.copyfile(two_face_video, clip)
    summary = service.ingest(
        [clip],
        engine=engine,
        analyzer=Analyzer(AnalyzerConfig(fps=2)),
        session_name=HOSTILE,
        participant=HOSTILE,
        tags=["<i>tag</i> [t](javascript:x) 😀"],
        notes=HOSTILE + "\nsecond line",
        keep="media",
        media_root=tmp / "media",
        display_names=[f"{HOSTILE[:120]}.mp4"],
    )
    assert [f.status for f in summary.files] == ["done"]
    sid = summary.session_id
    media_id = int(Q.session_media(engine, session_id=sid)["id"].iloc[0])
    service.add_marker(media_id, start_s=0.5, end_s=2.0, label=HOSTILE[:190], engine=engine)
    service.add_marker(media_id, start_s=3.0, end_s=None, label="\u202e<img src=x onerror=alert(1)>", engine=engine)
    people = Q.people(engine, session_id=sid)
    service.name_people([(int(people.media_id.iloc[0]), int(people.person.iloc[0]))], HOSTILE[:150], engine=engine)
    yield {"engine": engine, "url": url, "sid": sid, "tmp": tmp}
    engine.dispose()


def test_stored_text_has_no_control_or_override_characters(hostile):
    details = Q.session_details(hostile["engine"], session_id=hostile["sid"])
    for text in (details["name"], details["participant"], details["notes"], *details["tags"]):
        assert not any(c in text for c in "\x1b\x07\u202e\u202c"), text
    assert "second line" in details["notes"].split("\n")[1]  # notes keep their lines
    assert "שלום" in details["name"] and "😀" in details["name"] and LONG in details["name"]


def test_the_pdf_report_draws_it_as_text_inside_the_margins(hostile):
    import pypdfium2 as pdfium

    pdf = report.session_report(hostile["engine"], hostile["sid"], fmt="pdf")
    doc = pdfium.PdfDocument(pdf)
    text = " ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert "<script>alert(1)</script>" in text  # shown, as letters
    assert "[click](javascript:alert(1))" in text and ":red[red]" in text
    assert "שלום" in text and "مرحبا" in text  # right-to-left, drawn in reading order (read back logically)
    assert not any(c in text for c in "\x1b\x07\u202e")
    assert "王小明" in text and "김민준" in text  # East-Asian names in a font that has them
    assert "\U0001fae8" not in text and "?" in text  # a character no font of the report has: "?", not a box
    assert text.replace("\r\n", "").replace("\n", "").count("W" * 40) >= 1  # the long word wraps, whole
    margin = round(18 / 25.4 * 72) - 4
    for i in range(len(doc)):
        page = np.asarray(doc[i].render(scale=1).to_pil().convert("L"))
        h, w = page.shape
        outside = np.concatenate([page[:margin].ravel(), page[:, :margin].ravel(), page[:, w - margin :].ravel()])
        assert outside.min() > 245, f"page {i + 1}: ink in the margins"
        links = doc[i].get_textpage()
        assert links.count_chars() > 0
    doc.close()


def test_the_html_report_escapes_and_isolates_it(hostile):
    page = report.session_report(hostile["engine"], hostile["sid"], fmt="html").decode()
    assert "<script" not in page.lower() and "href" not in page and "onerror=" not in page.replace("onerror=alert", "")
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<bdi>" in page
    assert "overflow-wrap:anywhere" in page  # long words wrap inside the page
    assert not any(c in page for c in "\x1b\x07\u202e")


def _markdown_bodies(at) -> list[str]:
    """The text of every element that Streamlit reads as Markdown."""
    out = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "error", "warning", "info", "success"):
        out += [str(e.value) for e in at.get(kind)]
    out += [str(getattr(e, "label", "")) for kind in ("expander", "tab", "metric") for e in at.get(kind)]
    return out


def _check_page(at) -> int:
    """Checks one page; returns how many of its Markdown elements show the hostile text."""
    assert not at.exception, at.exception
    bodies = _markdown_bodies(at)
    for body in bodies:
        assert not any(shape in body for shape in LINK_SHAPES), body[:300]
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        for shape in ("<script>", "<b>b</b>", "<img src=x", "<i>tag</i>"):
            assert shape not in json.dumps(spec, ensure_ascii=False), shape
    tables = [element.proto.body for element in at.get("html")]  # dashboard/text_tables.py: every cell escaped
    for body in tables:
        for shape in ("<script>", "<b>b</b>", "<img src=x", "<i>tag</i>"):
            assert shape not in body, shape
    return sum("javascript" in b for b in bodies + tables)


def test_every_page_shows_it_as_text(hostile, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DATABASE_URL", hostile["url"])
    monkeypatch.setenv("FER_HOME", str(hostile["tmp"]))
    monkeypatch.delenv("FER_DASHBOARD_PASSWORD_HASH", raising=False)
    monkeypatch.delenv("FER_DASHBOARD_PASSWORD_SHA256", raising=False)
    from resources import get_engine, get_runner

    get_engine.clear(), get_runner.clear(), st.cache_data.clear()
    at = AppTest.from_file(str(REPO / "dashboard" / "router.py"), default_timeout=300).run()
    _check_page(at)
    for name in ("home", "jobs", "trends", "compare", "review", "manage"):
        at.switch_page(f"views/{name}.py").run()
        _check_page(at)
    at.switch_page("views/session.py").run()
    shown = _check_page(at)
    for section in ("Videos", "Photos", "People", "Segments", "Faces"):
        at.radio(key=f"section-{hostile['sid']}").set_value(section).run()
        shown += _check_page(at)
    assert shown >= 3  # the hostile text was on the pages (as text), not left out
    get_engine.clear(), get_runner.clear(), st.cache_data.clear()

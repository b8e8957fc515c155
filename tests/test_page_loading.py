"""What a new tab loads: the page's element code fetched early (dashboard/preload.py), nothing from the
internet, no syntax rewriting ("magic") that a page does not use."""

from __future__ import annotations

import ast
import re
import sys
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "dashboard"))
sys.path.insert(0, str(Path(__file__).parent))

import preload  # noqa: E402


def get(url: str) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip, br"})  # as a browser asks
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, dict(response.headers), response.read()


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    from served import dashboard

    home = tmp_path_factory.mktemp("home")
    env = {"DATABASE_URL": f"sqlite:///{home / 'fer.db'}", "FER_HOME": str(home)}
    with dashboard(env) as (port, _):
        yield port


def test_every_element_a_page_preloads_is_in_the_installed_streamlit():
    """A Streamlit upgrade that renames an element's file fails here, not silently in every new tab."""
    for page, elements in preload.PAGE_ELEMENTS.items():
        files = preload.files_for(elements)
        for element in elements:
            assert any(re.fullmatch(rf"{element}\.[\w\-]+\.js", f) for f in files), (page, element)
        assert preload.links(page).count(b"modulepreload") >= len(elements) - 1  # one may be in Streamlit's bundle
    for page in preload.PAGE_ELEMENTS:
        eager = re.search(
            rb'<script type="module">import\("\./static/js/(PlotlyChart\.[\w\-]+\.js)"\)</script>', preload.links(page)
        )
        assert bool(eager) == (page in preload.EAGER_PLOTLY), page
        assert eager is None or (preload.static_js_dir() / eager[1].decode()).is_file()


def test_a_page_opened_in_a_new_tab_names_its_elements_code_and_each_file_answers(port):
    base = f"http://127.0.0.1:{port}"
    _, _, plain = get(f"{base}/jobs")  # a page with nothing to preload: Streamlit's page as it is
    for page, elements in preload.PAGE_ELEMENTS.items():
        status, headers, body = get(f"{base}/{page}")
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert int(headers["content-length"]) == len(body)
        added = re.findall(rb'<link rel="modulepreload" crossorigin href="\./static/js/([^"]+)">', body)
        assert len(added) > plain.count(b"modulepreload"), page
        for element in elements:
            assert any(name.startswith(element.encode() + b".") for name in added), (page, element)
        for name in added:
            status, headers, code = get(f"{base}/static/js/{name.decode()}")
            assert status == 200 and code, name
    assert b"Selectbox." not in plain  # only the pages listed get tags
    assert b"BACKEND_BASE_URL" in plain and b'"jobs"' in plain  # every page says where the server is
    _, _, home = get(f"{base}/")
    assert b"BACKEND_BASE_URL" not in home  # Home's address is the server's
    status, _, health = get(f"{base}/_stcore/health")
    assert (status, health) == (200, b"ok")


def test_the_tab_icon_comes_from_the_dashboard_not_the_internet(port):
    from served import RawTab

    tab = RawTab(port)
    try:
        got = tab.run()
    finally:
        tab.close()
    icons = [m.page_config_changed.favicon for m in got if m.HasField("page_config_changed")]
    assert icons and all(icon and not re.match(r"(https?:)?//", icon) and ":material/" not in icon for icon in icons)


def test_no_page_writes_by_magic():
    """Magic is off (.streamlit/config.toml); a bare expression in a page would then show nothing, so none
    may exist: every expression statement is a call, a docstring or an ``await``."""
    for path in sorted((REPO / "dashboard").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Expr) and not isinstance(node.value, (ast.Call, ast.Await, ast.Yield)):
                docstring = isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                assert docstring, f"{path.name}:{node.lineno} would be written by magic"
    assert "magicEnabled = false" in (REPO / ".streamlit" / "config.toml").read_text()

"""Have a new tab fetch the code of a page's elements while Streamlit itself loads, not after.

Streamlit's browser code fetches each kind of element's JavaScript (a select box, a date input, a Plotly
chart, ...) only when the first element of that kind arrives, some 35 small files for a page of filters; a
browser fetches six at a time from one server, so in a new tab they came a second after the page's script had
sent everything (``benchmarks/pages.py``). :class:`Preload` adds ``<link rel="modulepreload">`` tags for the
elements the requested page shows at once (and the files they import) to the HTML Streamlit serves, so those
fetches start with Streamlit's own. Pages opened from the sidebar are unaffected: the tab has the code by then,
or fetches it as before.

Every page's HTML also tells Streamlit's browser code where the server is. Left to guess, a tab opened at
``/trends`` first asks ``/trends/_stcore/health``, gets a 404, and asks ``/_stcore/health`` only after a
back-off that a busy tab stretches to a second (Streamlit issue 7074); :func:`base_script` sets
``window.__streamlit.BACKEND_BASE_URL``, Streamlit's own setting for that, to the page's address less its
name, so the first question is the right one.

The file names carry Streamlit's build hashes, so they are looked up in the installed Streamlit; an element not
found there is left out (the page loads as it would without this; ``tests/test_page_loading.py`` says so).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

# The kinds of element each page shows when opened (Streamlit's component names); "" is Home.
_FILTERS = ("Selectbox", "Radio", "Checkbox", "DownloadButton")
PAGE_ELEMENTS = {
    "": ("PlotlyChart", "Metric", "Html", "PageLink", *_FILTERS),
    "session": ("PlotlyChart", "Metric", "Html", *_FILTERS),
    "trends": ("PlotlyChart", "Multiselect", "DateInput", "ButtonGroup", *_FILTERS),
    "compare": ("PlotlyChart", "Metric", "Html", "ButtonGroup", *_FILTERS),
}
# Pages with a chart at once: Plotly's code (4.6 MB) is also evaluated as soon as the page loads, while the tab
# waits for the server, instead of when the chart arrives (benchmarks/pages.py, docs/storage.md).
EAGER_PLOTLY = {"session", "trends", "compare"}
# Every page's address: Streamlit names a page by its file (views/trends.py is /trends); Home is "/".
PAGES = frozenset(p.stem for p in (Path(__file__).parent / "views").glob("*.py")) - {"home"}
_IMPORT = re.compile(rb'(?:from|import)\s*"\./([\w.\-]+\.js)"')


def static_js_dir() -> Path:
    import streamlit

    return Path(streamlit.__file__).parent / "static" / "static" / "js"


@functools.cache
def files_for(elements: tuple[str, ...], js_dir: Path | None = None) -> tuple[str, ...]:
    """The JavaScript files of these elements and everything they import (static imports only), by name."""
    js_dir = js_dir or static_js_dir()
    names = {p.name for p in js_dir.glob("*.js")}
    todo = [n for e in elements for n in sorted(names) if re.fullmatch(rf"{re.escape(e)}\.[\w\-]+\.js", n)]
    seen: list[str] = []
    while todo:
        name = todo.pop()
        if name in seen or name not in names:
            continue
        seen.append(name)
        todo.extend(m.decode() for m in _IMPORT.findall((js_dir / name).read_bytes()))
    return tuple(sorted(seen))


def links(page: str) -> bytes:
    """The ``<link rel="modulepreload">`` tags for a page (its path without slashes), or b"" for other pages."""
    # checked before the cache, which would otherwise keep an entry for every path any client asks for
    return _links(page) if page in PAGE_ELEMENTS else b""


@functools.cache
def _links(page: str) -> bytes:
    elements = PAGE_ELEMENTS[page]
    loaded = set(files_for(("index",)))  # Streamlit's own bundle, which its page loads anyway
    tags = b"".join(
        b'<link rel="modulepreload" crossorigin href="./static/js/%s">' % name.encode()
        for name in files_for(elements)
        if name not in loaded
    )
    plotly = [n for n in files_for(("PlotlyChart",)) if n.startswith("PlotlyChart.")]
    if page in EAGER_PLOTLY and plotly:
        tags += b'<script type="module">import("./static/js/%s")</script>' % plotly[0].encode()
    return tags


def base_script(page: str) -> bytes:
    """A script for the page's ``<head>``: the server's base URL, the page's address less its name (behind a
    proxy that adds a prefix too), set before Streamlit's code reads it; b"" for Home, whose address is the base."""
    if page not in PAGES:
        return b""
    return (
        b'<script>(function(s){var p=location.pathname.replace(/\\/+$/,"");'
        b'if(!window.__streamlit&&p.endsWith("/"+s))window.__streamlit={BACKEND_BASE_URL:location.origin+p.slice(0,-s.length)}'
        b'})("%s")</script>' % page.encode()
    )


class Preload:
    """ASGI middleware: the base URL and the preload tags go into the ``<head>`` of the HTML Streamlit serves
    for a page."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        page = scope.get("path", "").strip("/") if scope["type"] == "http" and scope.get("method") == "GET" else None
        tags = base_script(page) + links(page) if page is not None else b""
        if not tags:
            await self.app(scope, receive, send)
            return
        # the page's HTML uncompressed (10 kB), so that the tags can go in
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"accept-encoding"]
        scope = {**scope, "headers": headers}
        start: dict = {}
        body: list[bytes] = []

        async def send_with_tags(message):
            if message["type"] == "http.response.start":
                start.update(message)  # held back: the length changes if this is the page's HTML
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            content = b"".join(body)
            headers = dict(start.get("headers", []))
            if headers.get(b"content-type", b"").startswith(b"text/html") and b"</head>" in content:
                content = content.replace(b"</head>", tags + b"</head>", 1)
            fixed = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            fixed.append((b"content-length", str(len(content)).encode()))
            await send({**start, "headers": fixed})
            await send({"type": "http.response.body", "body": content})

        await self.app(scope, receive, send_with_tags)

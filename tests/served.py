"""A real dashboard server for the tests, and a raw client that speaks Streamlit's WebSocket protocol (as an
attacker would, with no browser): it sends BackMsgs and reads the server's ForwardMsgs."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dashboard(env: dict[str, str], log: Path | None = None):
    """``streamlit run dashboard/Home.py`` with ``env`` added to this process's environment; yields its port
    once healthy, and stops it after. Its output goes to ``log`` when given."""
    port = free_port()
    args = ["--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1"]
    out = open(log, "ab") if log else subprocess.DEVNULL
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/Home.py", *args],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        yield port, server
    finally:
        server.terminate()
        server.wait(timeout=30)
        if log:
            out.close()


def element_text(element) -> str:
    """The visible words of one page element (alert, heading, markdown, widget label...)."""
    kind = element.WhichOneof("type")
    inner = getattr(element, kind, None) if kind else None
    for field in ("body", "label", "text"):
        value = getattr(inner, field, None)
        if isinstance(value, str) and value:
            return value
    return ""


class RawTab:
    """One tab, as a bare WebSocket client: ``run`` reruns the script (with widget values) and returns what the
    server sent until the run finished; ``send`` sends any other BackMsg."""

    def __init__(self, port: int, *, headers: dict | None = None, resume: str | None = None):
        """``headers`` go with the handshake (a login cookie); ``resume`` names a session to reconnect to, as
        Streamlit's own client does after a network hiccup (in the WebSocket subprotocol header)."""
        self.ws = connect(
            f"ws://127.0.0.1:{port}/_stcore/stream",
            subprotocols=["streamlit", "xsrf", resume] if resume else ["streamlit"],
            additional_headers=headers,
            max_size=None,
            open_timeout=60,
        )
        self.session_id: str | None = None
        self.widgets: dict[str, str] = {}  # label -> widget id, as the server named them
        self.pages: dict[str, str] = {}  # page name -> script hash, as the navigation named them

    def close(self) -> None:
        self.ws.close()

    def send(self, **fields) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        self.ws.send(BackMsg(**fields).SerializeToString())

    def receive(self, timeout: float) -> list:
        """Every ForwardMsg that arrives within ``timeout`` seconds."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        got, end = [], time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                frame = self.ws.recv(timeout=left)
            except TimeoutError:
                break
            msg = ForwardMsg()
            msg.ParseFromString(frame)
            got.append(msg)
        return got

    def run(self, values: dict[str, str] | None = None, *, timeout: float = 120, **state) -> list:
        """Rerun the script with text widgets set to ``values`` (by label; ``state`` sets other ClientState
        fields: page_script_hash, query_string...), and return the messages up to the run's end."""
        from streamlit.proto.ClientState_pb2 import ClientState
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        client = ClientState(**state)
        for label, value in (values or {}).items():
            widget = client.widget_states.widgets.add()
            widget.id = self.widgets.get(label, label)  # an unknown label is sent as a made-up id
            if value is True:  # a button pressed
                widget.trigger_value = True
            else:
                widget.string_value = value
        self.send(rerun_script=client)
        got, end = [], time.monotonic() + timeout
        while time.monotonic() < end:
            msg = ForwardMsg()
            msg.ParseFromString(self.ws.recv(timeout=end - time.monotonic()))
            got.append(msg)
            if msg.HasField("new_session"):
                self.session_id = msg.new_session.initialize.session_id
            if msg.HasField("navigation"):
                self.pages = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
            if msg.HasField("delta") and msg.delta.HasField("new_element"):
                element = msg.delta.new_element
                kind = element.WhichOneof("type")
                widget_id = getattr(getattr(element, kind), "id", None) if kind else None
                if isinstance(widget_id, str) and widget_id:
                    self.widgets[element_text(element)] = widget_id
            if msg.HasField("script_finished"):
                return got
        raise TimeoutError("the run did not finish")

    @staticmethod
    def texts(messages: list) -> list[str]:
        return [
            element_text(m.delta.new_element)
            for m in messages
            if m.HasField("delta") and m.delta.HasField("new_element")
        ]

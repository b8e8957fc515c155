"""Many clients loading every dashboard page at once, while an ingest writes to the same database.

    python benchmarks/load.py [--clients 20] [--rounds 2]

Starts the dashboard on a fresh SQLite database holding one analysed session, starts
`python -m fer_core ingest` of a 20 s video beside it, and has ``--clients`` clients open every page at the
same moment, page after page, over Streamlit's WebSocket protocol (what a browser tab sends and receives,
without drawing). Prints each page's time per client (median and worst), the errors seen, and the ingest's
outcome. ``tests/test_e2e_browser.py`` runs the same load and checks only that every page renders without an
error and that the ingest's writes all succeed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time

PAGES = ("", "session", "trends", "compare", "manage", "upload", "jobs")


async def _load(port: int, page: str, timeout_s: float) -> dict:
    """One client opens ``page`` over Streamlit's own WebSocket protocol, as a browser tab does (without
    drawing it): the script runs for it and every element comes back. Returns its time, title and error."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    t = time.perf_counter()
    title = error = None
    # no protocol-level pings, as a browser tab sends none: a busy server must not drop the client for them
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/_stcore/stream",
        subprotocols=["streamlit"],
        max_size=None,
        ping_interval=None,
        open_timeout=timeout_s,
    ) as ws:
        ask = BackMsg()
        ask.rerun_script.page_name, ask.rerun_script.query_string = page, ""
        await ws.send(ask.SerializeToString())
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await asyncio.wait_for(ws.recv(), timeout_s))
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                if element.WhichOneof("type") == "heading" and title is None:
                    title = element.heading.body
                if element.WhichOneof("type") == "exception":
                    error = f"{element.exception.type}: {element.exception.message}"
            elif kind == "page_not_found":
                error = "page not found"
            elif kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                break
    return {"page": page or "home", "seconds": time.perf_counter() - t, "title": title, "error": error}


def load_every_page(port: int, *, clients: int, pages=PAGES, timeout_s: float = 600) -> list[dict]:
    """``clients`` clients at once, each opening every page in turn; one row per (client, page)."""

    async def client(i: int) -> list[dict]:
        rows = []
        for page in pages:
            try:
                rows.append({"client": i, **await _load(port, page, timeout_s)})
            except Exception as exc:  # a refused or dropped connection is a page that did not render
                rows.append({"client": i, "page": page or "home", "seconds": None, "title": None, "error": repr(exc)})
        return rows

    async def everyone() -> list[dict]:
        return [row for rows in await asyncio.gather(*(client(i) for i in range(clients))) for row in rows]

    # in a thread of its own: the caller may already run an event loop (Playwright's sync API does)
    result: list = []

    def run() -> None:
        try:
            result.append(asyncio.run(everyone()))
        except BaseException as exc:  # raised again in the caller's thread
            result.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def main() -> None:
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "benchmarks"))
    sys.path.insert(0, str(root / "tests"))
    import numpy as np
    from pages import start_dashboard

    from conftest import background, paste, write_video

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    faces = np.load(root.parent / "shared" / "data" / "fer2013_publictest.npz")["x"][:8]
    with tempfile.TemporaryDirectory() as home:
        home = Path(home)
        frames = []
        for i in range(600):
            img = background(360, 640, seed=3)
            paste(img, faces[i % 8], 200 + i % 40, 80, 180)
            frames.append(img)
        video = write_video(home / "long.mp4", frames, 30)
        db = home / "fer.db"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "FER_HOME": str(home)}
        ingest = [sys.executable, "-m", "fer_core", "ingest", "--session"]
        subprocess.run([*ingest, "Before", str(video)], env=env, cwd=root, check=True, capture_output=True)
        proc, url = start_dashboard(db, home)
        try:
            writer = subprocess.Popen(
                [*ingest, "During", str(video)],
                env=env,
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            port = int(url.rsplit(":", 1)[1])
            rows = []
            for _ in range(args.rounds):
                rows += load_every_page(port, clients=args.clients)
            out, err = writer.communicate(timeout=600)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    for name in PAGES:
        times = [r["seconds"] for r in rows if r["page"] == (name or "home") and r["seconds"] is not None]
        errors = [r["error"] for r in rows if r["page"] == (name or "home") and r["error"]]
        print(
            json.dumps(
                {
                    "page": name or "home",
                    "clients": args.clients,
                    "median_s": round(statistics.median(times), 2),
                    "worst_s": round(max(times), 2),
                    "errors": errors[:3],
                }
            )
        )
    print(json.dumps({"ingest_during_load": json.loads(out)["files"] if writer.returncode == 0 else err[-500:]}))


if __name__ == "__main__":
    main()

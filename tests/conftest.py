"""Shared fixtures: real faces from ../shared/data pasted into photos and videos built on the fly."""

from __future__ import annotations

import os
import sys
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "dashboard"))  # as `streamlit run dashboard/Home.py` does for the pages
DATA_DIR = Path(os.environ.get("FER_DATA_DIR", REPO.parent / "shared" / "data"))
needs_data = pytest.mark.skipif(
    not (DATA_DIR / "ferplus_valid.npz").exists(), reason=f"FER-2013 data not found in {DATA_DIR} (set FER_DATA_DIR)"
)
needs_weights = pytest.mark.skipif(
    not (REPO / "weights" / "resnet50.npz").exists() or not (REPO / "weights" / "vgg16.npz").exists(),
    reason="trained weights are not in weights/ yet",
)


@pytest.fixture(scope="session")
def faces() -> np.ndarray:
    """Real 48x48 grayscale faces (FER+ lossless pixels of PublicTest) that a face detector can see.

    FER-2013 faces are tight crops (no hair, sometimes no chin); about one in eight
    is not found even when pasted large (benchmarks/detectors.py measures this).
    Tests about tiling, tracking and the CLI need faces that are found, so the
    fixture keeps the first 64 that BlazeFace finds when pasted at 200 px.
    """
    if not (DATA_DIR / "ferplus_valid.npz").exists():
        pytest.skip(f"FER-2013 data not found in {DATA_DIR}")
    return detectable_faces(64)


def detectable_faces(n: int) -> np.ndarray:
    """The first ``n`` FER+ PublicTest faces that BlazeFace finds when pasted at 200 px (the benchmarks use it
    too)."""
    from fer_core.vision.detection import FaceDetector

    detector = FaceDetector(min_score=0.7, close_ups=False)  # the same faces as before the close-up view
    x = np.load(DATA_DIR / "ferplus_valid.npz")["x"]
    kept = []
    for face in x[x.reshape(len(x), -1).std(axis=1) > 40]:
        canvas = np.full((400, 400, 3), 128, np.uint8)
        paste(canvas, face, 100, 100, 200)
        if detector.detect(canvas):
            kept.append(face)
        if len(kept) == n:
            break
    return np.stack(kept)


def background(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, photo-like colour background (no faces)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 220, (max(2, height // 64), max(2, width // 64), 3)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC), (0, 0), 3)


def faceless(height: int, width: int, seed: int) -> np.ndarray:
    """A background with random ellipses, boxes and lines, blurred and noisy: no face, some clutter."""
    rng = np.random.default_rng(seed)
    img = background(height, width, seed)
    for _ in range(int(rng.integers(3, 12))):
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        cx, cy, r = int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(10, height // 2))
        kind = rng.integers(3)
        if kind == 0:
            cv2.ellipse(
                img, (cx, cy), (r, int(r * rng.uniform(0.6, 1.4))), float(rng.uniform(0, 180)), 0, 360, colour, -1
            )
        elif kind == 1:
            cv2.rectangle(img, (cx, cy), (cx + r, cy + int(r * rng.uniform(0.3, 2))), colour, -1)
        else:
            cv2.line(
                img,
                (cx, cy),
                (int(rng.integers(0, width)), int(rng.integers(0, height))),
                colour,
                int(rng.integers(2, 20)),
            )
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.5, 3)))
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


def paste(image: np.ndarray, face: np.ndarray, x: int, y: int, size: int) -> None:
    """Paste a grayscale face, scaled to ``size``, into a BGR image at (x, y)."""
    big = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    image[y : y + size, x : x + size] = big[..., None]


@pytest.fixture(scope="session")
def group_photo(tmp_path_factory, faces) -> tuple[Path, list[tuple[int, int, int]]]:
    """A 12-megapixel (4000x3000) JPEG with five faces of 160 to 600 px; returns (path, [(x, y, size)])."""
    img = background(3000, 4000, seed=1)
    spots = [(300, 400, 420), (1500, 700, 260), (2600, 1800, 600), (800, 2000, 180), (3300, 350, 300)]
    for k, (x, y, s) in enumerate(spots):
        paste(img, faces[k], x, y, s)
    path = tmp_path_factory.mktemp("media") / "group photo.jpg"
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path, spots


def write_video(path: Path, frames: list[np.ndarray], fps: float, fourcc: str = "mp4v") -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def write_vfr_video(path: Path, frames: list[np.ndarray], times: list[float]) -> Path:
    """An H.264 MP4 whose frames are shown at ``times`` (seconds): a variable frame rate, as phones record."""
    import fractions

    import av

    h, w = frames[0].shape[:2]
    tb = fractions.Fraction(1, 1000)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = tb
        for image, t in zip(frames, times):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = int(round(t * 1000)), tb
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


@pytest.fixture(scope="session")
def two_face_video(tmp_path_factory, faces) -> Path:
    """3 s at 30 fps, 640x360: one face drifting right on the left, another still on the right."""
    frames = []
    for i in range(90):
        img = background(360, 640, seed=2)
        paste(img, faces[0], 40 + i // 3, 80, 160)
        paste(img, faces[1], 400, 100, 150)
        frames.append(img)
    return write_video(tmp_path_factory.mktemp("video") / "two faces.mp4", frames, 30)


@pytest.fixture(scope="session")
def upload(tmp_path_factory, faces, two_face_video):
    """A typical upload: two photos, a video, and a broken file among them."""
    d = tmp_path_factory.mktemp("upload")
    one = background(720, 960, seed=11)
    paste(one, faces[3], 200, 150, 240)
    two = background(720, 960, seed=12)
    paste(two, faces[4], 100, 100, 200)
    paste(two, faces[5], 600, 300, 220)
    cv2.imwrite(str(d / "one face.jpg"), one)
    cv2.imwrite(str(d / "two faces é.png"), two)
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this JPEG stops here")
    return [d / "one face.jpg", d / "broken.jpg", d / "two faces é.png", two_face_video]


PG_URL = os.environ.get("FER_TEST_POSTGRES_URL")


def db_backends():
    """SQLite always; PostgreSQL where FER_TEST_POSTGRES_URL is set (CI always sets it: scripts/test.sh)."""
    yield "sqlite"
    yield pytest.param(
        "postgresql", marks=pytest.mark.skipif(not PG_URL and not os.environ.get("CI"), reason="no PostgreSQL")
    )


class ScratchPostgres:
    """A fresh database on the test PostgreSQL server (FER_TEST_POSTGRES_URL), dropped by ``drop()``.
    Used by the storage and worker tests and by benchmarks/workers.py."""

    def __init__(self, server_url: str, prefix: str = "fer_test"):
        import uuid

        from sqlalchemy import create_engine, text

        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self._admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = server_url.rsplit("/", 1)[0] + f"/{self.name}"

    def drop(self) -> None:
        from sqlalchemy import text

        with self._admin.connect() as c:
            c.execute(text(f'DROP DATABASE "{self.name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A new, empty database on SQLite and on the test PostgreSQL server (FER_TEST_POSTGRES_URL, which
    scripts/test.sh starts; skipped without it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fer.db'}"
        return
    server = os.environ.get("FER_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("no PostgreSQL (FER_TEST_POSTGRES_URL; scripts/test.sh starts one)")
    pg = ScratchPostgres(server)
    yield pg.url
    pg.drop()


def camera_frames(faces: np.ndarray, *, seconds: float = 4.0, fps: int = 15, size=(640, 480)) -> list[np.ndarray]:
    """A participant in front of a camera: one face of 200 px swaying left and right (back where it started
    after ``seconds``, so a camera looping the clip shows one person), a different face every second."""
    w, h = size
    frames = []
    for i in range(int(seconds * fps)):
        t = i / fps
        img = background(h, w, seed=5)
        x = int(w / 2 - 100 + 40 * np.sin(2 * np.pi * t / seconds))
        paste(img, faces[int(t) % len(faces)], x, h // 2 - 110, 200)
        frames.append(img)
    return frames


def write_y4m(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """A raw YUV 4:2:0 clip, the format Chromium's fake camera plays (--use-file-for-fake-video-capture)."""
    h, w = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for image in frames:
            out.write(b"FRAME\n" + cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="session")
def fake_camera(tmp_path_factory, faces) -> Path:
    """The fake camera's clip: 4 s at 15 frames a second, 640x480, real FER-2013 faces (never committed)."""
    return write_y4m(tmp_path_factory.mktemp("camera") / "participant.y4m", camera_frames(faces[:4]), 15)


def chromium_camera_args(clip: Path) -> list[str]:
    """Headless Chromium's flags for a camera that plays ``clip``, allowed without asking."""
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={clip}",
    ]


def run_live(page, url: str, *, session: str, seconds: float = 10.0, screenshot: Path | None = None) -> None:
    """On the Live page: name the session, start the camera, mark a moment half-way, stop, wait until saved."""
    page.goto(f"{url}/live")
    page.get_by_label("Session name").fill(session)
    page.get_by_label("Session name").press("Enter")
    page.wait_for_timeout(1500)
    camera = page.frame_locator('iframe[title*="webrtc"]').first
    camera.get_by_role("button", name="START").click(timeout=60_000)
    mark = page.get_by_role("button", name="Mark moment")
    mark.wait_for(timeout=60_000)
    page.wait_for_timeout(seconds * 500)
    mark.click()
    page.wait_for_timeout(seconds * 500)
    if screenshot is not None:
        page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=10_000)
        page.screenshot(path=str(screenshot), full_page=True)
    camera.get_by_role("button", name="STOP").click()
    page.get_by_text("Saved to").wait_for(timeout=60_000)


class _TableReader(HTMLParser):
    """The cells of the plain tables a page drew (dashboard/text_tables.py), as the reader sees them."""

    def __init__(self):
        super().__init__()
        self.tables, self._row, self._cell = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._row is not None:
            self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def html_tables(body: str) -> list:
    """The tables in an HTML text, in order, as DataFrames of the text shown (header row as columns)."""
    import pandas as pd

    reader = _TableReader()
    reader.feed(body)
    return [pd.DataFrame(rows[1:], columns=rows[0]) for rows in reader.tables if rows]


def page_tables(at) -> list:
    """Every table of figures on an AppTest page, in order."""
    return [table for element in at.get("html") for table in html_tables(element.proto.body)]

"""Bad and unusual inputs, each built here: a clear message for each bad one, the rest of the upload goes on,
the database stays consistent. Also two ingests at once on one SQLite file."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import pytest
from PIL import Image
from sqlalchemy import func, select

from fer_core import Analyzer, AnalyzerConfig, MediaError
from fer_core.service import ingest
from fer_core.storage.db import make_engine, session_factory, upgrade
from fer_core.storage.orm import FaceDetection, MediaFile, Prediction
from fer_core.vision.media import read_image, sample_video

from conftest import REPO, background, needs_weights, paste, write_video


def png_bomb(path: Path, side: int = 30000) -> Path:
    """A valid side x side grayscale PNG of a few hundred KB (streamed, never held in memory)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )
    return path


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, faces):
    d = tmp_path_factory.mktemp("bad")
    good = background(480, 640, seed=21)
    paste(good, faces[8], 200, 100, 220)
    cv2.imwrite(str(d / "good.jpg"), good)
    jpg = (d / "good.jpg").read_bytes()
    cv2.imwrite(str(d / "full.png"), good)
    files = {
        "empty.jpg": b"",
        "truncated.jpg": jpg[: len(jpg) // 3],
        "truncated.png": (d / "full.png").read_bytes()[:2000],
        "text.png": b"this is a text file, not a picture\n" * 20,
        "empty.mp4": b"",
        "not a video.mp4": b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000),
    }
    for name, content in files.items():
        (d / name).write_bytes(content)
    png_bomb(d / "bomb.png")
    import wave

    with wave.open(str(d / "audio only.mp4"), "wb") as w:  # a file with sound and no video stream
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 8000)
    frames = [Image.fromarray(background(64, 64, seed=s)) for s in range(3)]
    frames[0].save(d / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    video = write_video(d / "full.mp4", [good] * 60, 30)
    data = video.read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    middle = bytearray(data)
    middle[len(data) // 3 : len(data) // 3 + 4000] = os.urandom(4000)
    (d / "corrupt middle.mp4").write_bytes(bytes(middle))
    return d


@pytest.mark.parametrize(
    "name,match",
    [
        ("empty.jpg", "empty"),
        ("truncated.jpg", "damaged or truncated"),
        ("truncated.png", "damaged or truncated"),
        ("text.png", "not an image"),
        ("bomb.png", "900 megapixels"),
        ("animated.gif", "animated"),
    ],
)
def test_bad_photos_get_clear_messages(bad_files, name, match):
    with pytest.raises(MediaError, match=match):
        read_image(bad_files / name)


@pytest.mark.parametrize("name", ["empty.mp4", "not a video.mp4", "truncated.mp4", "audio only.mp4"])
def test_bad_videos_get_clear_messages(bad_files, name):
    with pytest.raises(MediaError, match=name.split(".")[0]):
        list(sample_video(bad_files / name))


def test_a_video_with_a_corrupt_middle_still_gives_its_readable_frames(bad_files):
    frames = list(sample_video(bad_files / "corrupt middle.mp4", fps=2))
    assert frames and frames[0].t_s == 0.0


def test_unusual_but_valid_photos_work(tmp_path):
    img = Image.fromarray(background(120, 160, seed=5)[:, :, ::-1])
    for name, im in {
        "rgba 'quoted' $(x).png": img.convert("RGBA"),
        "grey ü.png": img.convert("L"),
        "cmyk.jpg": img.convert("CMYK"),
        "web p.webp": img,
    }.items():
        im.save(tmp_path / name)
        assert read_image(tmp_path / name).shape == (120, 160, 3)


@needs_weights
def test_one_upload_full_of_bad_files_keeps_the_good_ones(bad_files, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'bad.db'}")
    upgrade(engine)
    names = [
        "empty.jpg",
        "good.jpg",
        "truncated.jpg",
        "truncated.png",
        "text.png",
        "bomb.png",
        "animated.gif",
        "empty.mp4",
        "not a video.mp4",
        "truncated.mp4",
        "audio only.mp4",
        "corrupt middle.mp4",
    ]
    summary = ingest(
        [bad_files / n for n in names],
        engine=engine,
        analyzer=Analyzer(AnalyzerConfig()),
        session_name="Bad day",
        media_root=tmp_path / "media",
    )
    status = {f.file: f.status for f in summary.files}
    assert status.pop("good.jpg") == "done" and status.pop("corrupt middle.mp4") == "done"
    assert set(status.values()) == {"failed"}
    assert all(f.error and f.file in f.error for f in summary.files if f.status == "failed")
    with session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(MediaFile).where(MediaFile.status == "done")) == 2
        faces = db.scalar(select(func.count()).select_from(FaceDetection))
        assert db.scalar(select(func.count()).select_from(Prediction)) == 3 * faces


@needs_weights
def test_two_ingests_at_once_on_one_sqlite_file(tmp_path, faces):
    videos = []
    for k in range(2):
        frames = []
        for i in range(120):
            img = background(360, 640, seed=30 + k)
            paste(img, faces[10 + k], 150 + i // 4, 80, 180)
            frames.append(img)
        # 30 s at 4 fps: long enough that both writers and the reader overlap for seconds even on a fast machine
        videos.append(write_video(tmp_path / f"v{k}.mp4", frames, 4))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}", "FER_HOME": str(tmp_path)}
    upgrade(make_engine(env["DATABASE_URL"]))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "fer_core", "ingest", "--session", f"S{k}", str(v)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for k, v in enumerate(videos)
    ]
    from fer_core.storage import queries as Q

    reader = make_engine(env["DATABASE_URL"])
    reads = 0
    while any(p.poll() is None for p in procs):  # the dashboard reading while both write
        Q.totals(reader), Q.emotion_distribution(reader), Q.sessions_overview(reader)
        reads += 1
        time.sleep(0.2)
    assert reads > 5
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-2000:]
        assert json.loads(out)["files"][0]["faces"] == 60  # 30 s at 2 frames/s, one face
    engine = make_engine(env["DATABASE_URL"])
    with session_factory(engine)() as db:
        assert db.scalar(select(func.count()).select_from(FaceDetection)) == 120
        assert db.scalar(select(func.count()).select_from(Prediction)) == 360


@needs_weights
def test_upload_size_limit(bad_files, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'limit.db'}")
    upgrade(engine)
    small = Analyzer(AnalyzerConfig(max_upload_bytes=10_000))
    summary = ingest(
        [bad_files / "good.jpg"], engine=engine, analyzer=small, session_name="Limits", media_root=tmp_path / "media"
    )
    assert summary.files[0].status == "failed" and "over the upload limit of 0.01 MB" in summary.files[0].error

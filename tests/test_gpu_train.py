"""scripts/gpu_train.py: what travels to and from a lent GPU machine survives the trip.

The training itself is the ordinary `python -m fer_core train` (tests/test_training.py); these tests
cover the packing around it, which no CI machine can exercise end to end (it has no GPU).
"""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

from conftest import DATA_DIR, REPO

spec = importlib.util.spec_from_file_location("gpu_train", REPO / "scripts" / "gpu_train.py")
gpu_train = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_train)


def test_faces_survive_jpeg_packing(tmp_path):
    src = DATA_DIR / "fer2013_publictest.npz"
    packed = tmp_path / "packed"
    packed.mkdir()
    gpu_train.pack_faces(src, packed / "fer2013_publictest.jpg.npz")
    assert (packed / "fer2013_publictest.jpg.npz").stat().st_size < 0.8 * src.stat().st_size

    gpu_train.unpack_faces(packed, tmp_path / "data")
    before, after = np.load(src), np.load(tmp_path / "data" / "fer2013_publictest.npz")
    assert after["x"].shape == before["x"].shape and after["x"].dtype == np.uint8
    np.testing.assert_array_equal(after["y"], before["y"])
    np.testing.assert_array_equal(after["near_dup_in_train"], before["near_dup_in_train"])
    # The source pixels are decoded q95 JPEGs: re-encoding at q95 moves them by a fraction of a grey level.
    assert np.abs(after["x"].astype(int) - before["x"]).mean() < 0.2


@pytest.fixture
def run_dir(tmp_path):
    """A run folder as `train` leaves it, with the shipped VGG16 weights as its best epoch."""
    run_dir = tmp_path / "runs" / "vgg16"
    run_dir.mkdir(parents=True)
    shutil.copy(REPO / "weights" / "vgg16.npz", run_dir / "best.npz")
    (run_dir / "state.json").write_text('{"backend": "jax", "best_epoch": 3}')
    return run_dir


def test_weights_split_into_parts_and_join_back(tmp_path, run_dir):
    out = tmp_path / "out"

    gpu_train.split_run(run_dir, out, part_bytes=16_000_000)
    parts = sorted(out.glob("vgg16.best.part*"))
    assert len(parts) == 2 and all(p.stat().st_size <= 16_000_000 for p in parts)

    made = gpu_train.join_runs(out, tmp_path / "joined")
    assert made == [tmp_path / "joined" / "vgg16"]
    assert (made[0] / "best.npz").read_bytes() == (run_dir / "best.npz").read_bytes()
    assert (made[0] / "state.json").read_text() == '{"backend": "jax", "best_epoch": 3}'


def test_a_missing_part_is_caught_when_joining(tmp_path, run_dir):
    out = tmp_path / "out"
    gpu_train.split_run(run_dir, out, part_bytes=10_000_000)
    (out / "vgg16.best.part1").unlink()
    with pytest.raises(ValueError, match="vgg16: parts \\[0, 2\\]"):
        gpu_train.join_runs(out, tmp_path / "joined")


def _small_copy(src, dst, n: int) -> None:
    """The first ``n`` faces of each training file in ``src`` (JPEG-packed ones sliced by their offsets)."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.glob("*.npz")):
        d = dict(np.load(f))
        if "offsets" in d:
            end = int(d["offsets"][n])
            d = {
                "jpeg": d["jpeg"][:end],
                "offsets": d["offsets"][: n + 1],
                "y": d["y"][:n],
                "filename": d["filename"][:n],
            }
        else:
            count = len(d["y"]) if "y" in d else len(d["votes"])
            d = {k: (v[:n] if v.ndim and len(v) == count else v) for k, v in d.items()}
        np.savez(dst / f.name, **d)


def test_the_gpu_run_rehearsed_here(tmp_path, monkeypatch):
    """pack -> run -> join, as on the lent machine but on this CPU with TensorFlow and a few faces of every
    source: the run trains on the in-the-wild mix (RAF-DB and AffectNet crops included), scores all five
    validation sets, and its best weights come back whole."""
    import json
    import subprocess
    import sys

    data = tmp_path / "data"
    _small_copy(DATA_DIR, data, 300)
    script = [sys.executable, str(REPO / "scripts" / "gpu_train.py")]
    pack = tmp_path / "pack"
    done = subprocess.run(
        [
            *script,
            "pack",
            "--data",
            str(data),
            "--pack-dir",
            str(pack),
            "--crops",
            str(tmp_path / "crops"),
            "--no-wheels",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert {p.name for p in (pack / "wild" / "data").iterdir()} >= {
        "rafdb_crops48.jpg.npz",
        "affectnet_crops48.jpg.npz",
    }
    out = tmp_path / "out"
    done = subprocess.run(
        [
            *script,
            "run",
            "--models",
            "vgg16",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--limit-train",
            "128",
            "--limit-val",
            "32",
            "--minutes",
            "8",
            "--backend",
            "tensorflow",
            "--pack-dir",
            str(pack),
            "--work",
            str(tmp_path / "work"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={**__import__("os").environ, "OUT": str(out)},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = (tmp_path / "work" / "runs" / "vgg16" / "train.log").read_text()
    assert "mixed in affectnet" in log and "mixed in rafdb" in log, log[-2000:]
    made = gpu_train.join_runs(out, tmp_path / "joined")
    state = json.loads((made[0] / "state.json").read_text())
    assert set(state["best_val"]) >= {"val_rafdb_accuracy", "val_affectnet_accuracy", "val_expw_accuracy"}
    with np.load(made[0] / "best.npz") as weights:
        assert len(weights.files) > 20

"""The command-line contract that other parts and independent checks rely on."""

import json
import subprocess
import sys

import cv2
import numpy as np

from fer_core.constants import EMOTIONS

from conftest import DATA_DIR, REPO, background, needs_data, needs_weights, paste

FACE_KEYS = {"file", "frame", "t_s", "box", "det_score", "track", "predictions"}
# facial states (tests/test_states.py checks their values); "states_missing" only where they could not be read
STATE_KEYS = {"head", "gaze", "looking", "eyes_open", "mouth_open", "brow_height", "brows"}


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "fer_core", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=600,
    )


@needs_weights
def test_analyze_contract(tmp_path, group_photo, two_face_video):
    empty = tmp_path / "no face.png"
    cv2.imwrite(str(empty), background(480, 640, seed=9))
    broken = tmp_path / "broken 'quoted' $name.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    photo, spots = group_photo
    out = run_cli("analyze", photo, empty, broken, two_face_video)
    assert out.returncode == 1, out.stderr  # one file could not be read
    records = [json.loads(line) for line in out.stdout.splitlines()]  # stdout holds JSON only
    by_file = {}
    for r in records:
        by_file.setdefault(r["file"], []).append(r)
    assert list(by_file) == [str(photo), str(empty), str(broken), str(two_face_video)]  # order kept, went on
    assert by_file[str(empty)] == [{"file": str(empty), "faces": 0}]
    assert set(by_file[str(broken)][0]) == {"file", "error"} and "broken" in by_file[str(broken)][0]["error"]
    assert len(spots) <= len(by_file[str(photo)]) <= len(spots) + 1
    video = by_file[str(two_face_video)]
    assert len(video) == 12 and {r["t_s"] for r in video} == {0.0, 0.5, 1.0, 1.5, 2.0, 2.5}
    for r in by_file[str(photo)] + video:
        assert set(r) - {"states_missing"} == FACE_KEYS | STATE_KEYS and len(r["box"]) == 4
        assert set(r["predictions"]) == {"resnet50", "vgg16", "ensemble"}
        for p in r["predictions"].values():
            assert set(p) == {"label", "confidence", "probs"} and list(p["probs"]) == list(EMOTIONS)
    assert "%" in out.stderr  # progress goes to stderr


@needs_weights
def test_analyze_one_model_and_sampling_rate(two_face_video):
    out = run_cli("analyze", two_face_video, "--models", "vgg16", "--fps", "1")
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["t_s"] for r in records} == {0.0, 1.0, 2.0}
    assert all(set(r["predictions"]) == {"vgg16"} for r in records)


def test_analyze_without_weights_says_so(tmp_path, group_photo):
    import os

    env = {**os.environ, "FER_WEIGHTS_DIR": str(tmp_path)}
    out = run_cli("analyze", group_photo[0], env=env)
    assert out.returncode == 2 and out.stdout == ""
    assert "no trained weights" in out.stderr


@needs_weights
@needs_data
def test_evaluate_crops_and_photos(tmp_path, faces):
    d = np.load(DATA_DIR / "fer2013_publictest.npz")
    x, y = d["x"][:60], d["y"][:60].copy()
    y[5] = 255  # unlabelled rows are skipped
    crops = tmp_path / "crops.npz"
    np.savez(crops, x=x, y=y)
    out = run_cli("evaluate", crops)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["n"] == 59 and res["detected"] == 59
    assert set(res["models"]) == {"resnet50", "vgg16", "ensemble"}
    for m in res["models"].values():
        assert 0 <= m["accuracy"] <= 100 and list(m["per_class_recall"]) == list(EMOTIONS)
        assert np.array(m["confusion"]).shape == (7, 7) and np.array(m["confusion"]).sum() == 59

    # photos: two with a face pasted in, one with none (counted as wrong)
    photos = np.stack([background(480, 640, seed=s) for s in range(3)])
    paste(photos[0], faces[0], 100, 100, 200)
    paste(photos[1], faces[1], 300, 150, 240)
    path = tmp_path / "photos.npz"
    np.savez(path, x=photos, y=np.array([3, 3, 3], np.uint8))
    out = run_cli("evaluate", path, "--detect", "--models", "vgg16")
    res = json.loads(out.stdout)
    assert res["n"] == 3 and res["detected"] == 2
    assert np.array(res["models"]["vgg16"]["confusion"]).sum() == 2  # the photo with no face is not in a cell
    assert res["models"]["vgg16"]["accuracy"] <= 66.67  # at most 2 of 3 right


def test_models_lists_both():
    out = run_cli("models")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["name"] for r in rows] == ["resnet50", "vgg16"]
    assert [r["params"] for r in rows] == [23_602_055, 14_718_279]
    for r in rows:
        assert {"weights_file", "sha256", "version", "val_accuracy", "backbone_size"} <= set(r)

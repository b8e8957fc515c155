"""Refitting a shipped model's classifier head on frozen features (fer_core/lab/head_refit.py)."""

import json

import numpy as np

from fer_core.adapt import head_names
from fer_core.constants import NUM_CLASSES
from fer_core.lab.head_refit import fit_head, refit, ship_head

from conftest import DATA_DIR, REPO, needs_data


def test_a_class_a_source_never_labels_is_not_pushed_down():
    """AffectNet has no neutral: with every face's neutral marked "not asked", the fit leaves the neutral
    column where it was (only the pull towards the shipped head acts on it), while the other columns move."""
    rng = np.random.default_rng(0)
    f = rng.normal(size=(300, 16))
    y = rng.integers(0, 6, size=300)
    targets = np.eye(NUM_CLASSES)[y]
    targets[:, 6] = -1
    kernel0, bias0 = rng.normal(size=(16, NUM_CLASSES)) * 0.1, np.zeros(NUM_CLASSES)
    kernel, bias = fit_head(f, None, targets, np.ones(300), kernel0, bias0, penalty=1e-3)
    assert np.allclose(kernel[:, 6], kernel0[:, 6], atol=1e-6) and abs(bias[6] - bias0[6]) < 1e-6
    assert np.abs(kernel[:, :6] - kernel0[:, :6]).max() > 0.01
    # and a strong pull keeps the whole head near the shipped one
    held, _ = fit_head(f, None, targets, np.ones(300), kernel0, bias0, penalty=1e3)
    assert np.abs(held - kernel0).max() < 1e-3


@needs_data
def test_a_tiny_refit_ships_the_backbone_unchanged_with_its_card(tmp_path):
    shipped = REPO / "weights" / "vgg16.npz"
    report = refit(
        "vgg16",
        shipped,
        data_dir=str(DATA_DIR),
        out_dir=tmp_path,
        mix={"expw": 1},
        penalties=(1e-2, 1e-6),
        limit=160,
        mirrored=False,
    )
    assert set(report["shipped"]) == {"publictest", "expw", "sfew"} and len(report["fits"]) == 2
    assert json.loads((tmp_path / "vgg16" / "refit.json").read_text())["fits"] == report["fits"]
    from fer_core.models.registry import sha256

    with np.load(tmp_path / "vgg16" / "train_features.npz") as kept:  # reused only for the same weights
        assert str(kept["weights_sha256"]) == sha256(shipped) and "fm" not in kept.files
    # shipped only where a fit beats the shipped head on the validation sets' mean
    assert (tmp_path / "vgg16" / "best.npz").exists() == (report["chosen"] is not None)
    assert report["chosen"] is None or report["chosen"]["mean"] > report["shipped_mean"]
    with np.load(tmp_path / "vgg16" / "head_0.01.npz") as h:  # this one shipped, whatever it scored
        ship_head(
            "vgg16",
            shipped,
            tmp_path / "vgg16",
            h["kernel"],
            h["bias"],
            mix={"expw": 1},
            ferplus_mix=0.7,
            penalty=0.01,
            mirrored=False,
        )
    kernel_name, bias_name = head_names(shipped)
    with np.load(shipped) as old, np.load(tmp_path / "vgg16" / "best.npz") as new:
        assert sorted(old.files) == sorted(new.files)
        assert all(new[k].dtype == np.float16 for k in new.files)
        assert all(np.array_equal(old[k], new[k]) for k in old.files if k not in (kernel_name, bias_name))
        assert not np.array_equal(old[kernel_name], new[kernel_name])
    from fer_core.lab.modelcard import write_card

    card = write_card(
        model="vgg16",
        weights=str(tmp_path / "vgg16" / "best.npz"),
        data_dir=str(DATA_DIR),
        run_dir=str(tmp_path / "vgg16"),
        weights_dir=tmp_path / "weights",
        limit=64,
    )
    assert card["training"]["mix"] == {"expw": 1}
    assert card["training"]["head_refit"] == {"penalty": 0.01, "mirrored": False}
    assert card["float16_check"]["checkpoint"] == "best epoch"
    assert abs(card["float16_check"]["difference_points"]) < 5
    assert card["version"].startswith(card["date"].replace("-", ".") + "-e")

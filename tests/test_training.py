"""Training runs end to end on a tiny subset, resumes where it stopped, and ships a compact file."""

import json

import numpy as np
import pytest

from fer_core.cli import cpu_has_bfloat16, main
from fer_core.lab.training import (
    TrainConfig,
    augment,
    class_weights,
    cosine_lr,
    load_training_data,
    train,
)

from conftest import DATA_DIR, REPO, needs_data

# mixed bfloat16 where the CPU computes it; elsewhere it is emulated, about 20 times slower than float32
BF16 = cpu_has_bfloat16()


def test_class_weights_favour_rare_classes():
    labels = np.array([0] * 90 + [1] * 10)
    w = class_weights(np.concatenate([labels, np.arange(2, 7)]), 0.5)
    assert w[1] > w[0] and w[np.concatenate([labels, np.arange(2, 7)])].mean() == pytest.approx(1.0)


def test_augment_keeps_shape_and_changes_pixels():
    rng = np.random.default_rng(0)
    batch = rng.integers(0, 255, (8, 48, 48)).astype(np.uint8)
    out = augment(batch, np.random.default_rng(1))
    assert out.shape == batch.shape and out.dtype == np.uint8 and not np.array_equal(out, batch)
    assert np.array_equal(out, augment(batch, np.random.default_rng(1)))  # reproducible


@needs_data
def test_ferplus_votes_mix_into_targets():
    x, targets, labels = load_training_data(DATA_DIR, ferplus_mix=0.5)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-5)
    assert (targets.max(axis=1) < 1).mean() > 0.5  # most faces now carry soft targets
    assert (targets.argmax(axis=1) == labels).mean() > 0.8


@needs_data
def test_tiny_training_resumes_and_saves_compact_weights(tmp_path):
    cfg = TrainConfig(
        model="vgg16",
        data_dir=str(DATA_DIR),
        out_dir=str(tmp_path),
        epochs=1,
        batch_size=32,
        limit_train=192,
        limit_val=64,
        mixed_bfloat16=BF16,
    )
    first = train(cfg)
    assert first["last_epoch"] == 1 and first["backend"] == "tensorflow"
    best = np.load(tmp_path / "vgg16" / "best.npz")
    assert all(best[k].dtype == np.float16 for k in best.files)
    with pytest.raises(FileExistsError, match="--resume"):
        train(cfg)
    # resumed from the command line with only a longer --epochs: the run keeps its own settings
    assert (
        main(
            ["train", "--resume", "--model", "vgg16", "--out", str(tmp_path), "--epochs", "2", "--data", str(DATA_DIR)]
        )
        == 0
    )
    saved = json.loads((tmp_path / "vgg16" / "config.json").read_text())
    assert (saved["limit_train"], saved["batch_size"], saved["limit_val"]) == (192, 32, 64)
    history = (tmp_path / "vgg16" / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["0", "1"]  # epoch 1 was not run again
    assert json.loads((tmp_path / "vgg16" / "config.json").read_text())["epochs"] == 2

    # ship it: the card is measured, and the analyzer reproduces the card's accuracy from the shipped files
    from fer_core import Analyzer, AnalyzerConfig
    from fer_core.lab.modelcard import write_card
    from fer_core.models.registry import sha256

    card = write_card(
        model="vgg16",
        weights=str(tmp_path / "vgg16" / "best.npz"),
        data_dir=str(DATA_DIR),
        weights_dir=tmp_path / "weights",
        limit=120,
    )
    assert card["sha256"] == sha256(tmp_path / "weights" / "vgg16.npz")
    assert card["params"] == 14_718_279 and card["epochs_trained"] == 2 and card["backend"] == "tensorflow"
    assert {"publictest", "publictest_without_near_dups", "temperature", "tta_flip", "float16_check"} <= set(card)
    assert card["expw_test"]["n"] == card["sfew2_test"]["n"] == card["publictest"]["n"]  # every validation set
    assert card["float16_check"]["checkpoint"] == "best epoch"  # measured against the shipped epoch's float32
    assert abs(card["float16_check"]["difference_points"]) < 5
    d = np.load(DATA_DIR / "fer2013_publictest.npz")
    probs = Analyzer(AnalyzerConfig(models=("vgg16",), weights_dir=str(tmp_path / "weights"))).classify(d["x"][:120])
    accuracy = 100 * float(np.mean(probs["vgg16"].argmax(axis=1) == d["y"][:120]))
    assert accuracy == pytest.approx(card["publictest"]["accuracy"], abs=0.01)


def test_cosine_schedule_falls_from_base_to_one_percent():
    rates = [cosine_lr(e, base=1e-4, epochs=5) for e in range(5)]
    assert rates[0] == pytest.approx(1e-4) and rates[-1] == pytest.approx(1e-6)
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert cosine_lr(9, base=1e-4, epochs=5) == pytest.approx(1e-6)  # past the end it stays at the floor


@needs_data
def test_tiny_training_mixes_in_the_wild_faces_and_scores_every_validation_set(tmp_path):
    cfg = TrainConfig(
        model="vgg16",
        data_dir=str(DATA_DIR),
        out_dir=str(tmp_path),
        epochs=1,
        limit_train=64,
        limit_val=32,
        mix={"expw": 0.5},
        optimizer="sgd",
        weight_decay=1e-4,
        learning_rate=1e-3,
        photometric=True,
        select="mean",
    )
    summary = train(cfg)
    import csv

    with open(tmp_path / "vgg16" / "history.csv") as f:
        row = next(csv.DictReader(f))
    scores = [float(row[k]) for k in ("val_accuracy", "val_expw_accuracy", "val_sfew_accuracy")]
    assert float(row["val_selection"]) == pytest.approx(sum(scores) / 3)  # the best epoch is chosen on all three
    assert summary["best_val"]["val_expw_accuracy"] == pytest.approx(scores[1])
    with pytest.raises(ValueError, match="unknown source"):
        train(
            TrainConfig(
                model="vgg16",
                data_dir=str(DATA_DIR),
                out_dir=str(tmp_path / "b"),
                epochs=1,
                limit_train=32,
                limit_val=32,
                mix={"affectnet_v2": 1},
            )
        )


def test_tiny_training_follows_the_cosine_schedule(tmp_path):
    cfg = TrainConfig(
        model="vgg16",
        data_dir=str(DATA_DIR),
        out_dir=str(tmp_path),
        epochs=3,
        batch_size=32,
        limit_train=64,
        limit_val=32,
        mixed_bfloat16=BF16,
        schedule="cosine",
        learning_rate=2e-4,
    )
    train(cfg)
    rows = (tmp_path / "vgg16" / "history.csv").read_text().splitlines()
    column = rows[0].split(",").index("learning_rate")
    used = [float(r.split(",")[column]) for r in rows[1:]]
    assert used == pytest.approx([cosine_lr(e, base=2e-4, epochs=3) for e in range(3)], rel=1e-4)
    with pytest.raises(ValueError, match="cosine"):
        train(
            TrainConfig(
                model="vgg16",
                data_dir=str(DATA_DIR),
                out_dir=str(tmp_path / "b"),
                epochs=1,
                limit_train=32,
                limit_val=32,
                schedule="step",
            )
        )


@needs_data
def test_a_net_trained_at_a_larger_backbone_size_ships_and_loads_at_that_size(tmp_path):
    cfg = TrainConfig(
        model="vgg16",
        data_dir=str(DATA_DIR),
        out_dir=str(tmp_path),
        epochs=1,
        batch_size=32,
        limit_train=64,
        limit_val=32,
        backbone_size=64,
    )
    train(cfg)
    from fer_core import Analyzer, AnalyzerConfig
    from fer_core.lab.modelcard import write_card
    from fer_core.models.engines import load_lite
    from fer_core.models.nets import preprocess
    from fer_core.models.registry import load_model

    card = write_card(
        model="vgg16",
        weights=str(tmp_path / "vgg16" / "best.npz"),
        data_dir=str(DATA_DIR),
        weights_dir=tmp_path / "weights",
        limit=64,
    )
    assert card["backbone_size"] == 64 and "64x64" in card["architecture"]
    assert card["training"]["backbone_size"] == 64
    keras_net = load_model("vgg16", tmp_path / "weights")
    assert keras_net.get_layer("enlarge").output.shape[1:3] == (64, 64)
    d = np.load(DATA_DIR / "fer2013_publictest.npz")
    # LiteRT files of earlier weights or an earlier format go when the new ones are converted; other models'
    # files stay.
    cache = tmp_path / "weights" / ".cache"
    cache.mkdir(parents=True)
    digest = card["sha256"][:16]
    stale = [
        cache / "vgg16-0123456789abcdef-f2.tflite",
        cache / "vgg16-0123456789abcdef-int8.tflite",
        cache / f"vgg16-{digest}.tflite",  # one output only: made before the pooled features came out too
        cache / f"vgg16-{digest}-f2.tflite",  # these weights, named before the input size was in the name
    ]
    other = cache / "resnet50-0123456789abcdef.tflite"
    for f in (*stale, other):
        f.write_bytes(b"old")
    # The LiteRT file gives Keras' numbers for an enlarged net too (through a SavedModel it once did not).
    x = preprocess(d["x"][:16])
    np.testing.assert_allclose(
        load_lite("vgg16", tmp_path / "weights").predict_on_batch(x),
        np.asarray(keras_net.predict_on_batch(x)),
        atol=1e-3,
    )
    assert not any(f.exists() for f in stale) and other.exists()
    assert [f.name for f in cache.glob("vgg16-*")] == [f"vgg16-{digest}-f2x64.tflite"]
    probs = Analyzer(AnalyzerConfig(models=("vgg16",), weights_dir=str(tmp_path / "weights"))).classify(d["x"][:64])
    accuracy = 100 * float(np.mean(probs["vgg16"].argmax(axis=1) == d["y"][:64]))
    assert accuracy == pytest.approx(card["publictest"]["accuracy"], abs=0.01)


@needs_data
def test_training_the_head_only_leaves_the_backbone_as_it_was(tmp_path):
    start = REPO / "weights" / "vgg16.npz"
    cfg = TrainConfig(
        model="vgg16",
        data_dir=str(DATA_DIR),
        out_dir=str(tmp_path),
        epochs=1,
        batch_size=32,
        limit_train=64,
        limit_val=32,
        init_weights=str(start),
        learning_rate=1e-2,
        train_part="head",
    )
    train(cfg)
    with np.load(start) as before, np.load(tmp_path / "vgg16" / "best.npz") as after:
        assert before.files == after.files  # same arrays in the same order: loads into the full net
        changed = [k for k in before.files if not np.array_equal(before[k], after[k])]
    assert changed == before.files[-2:]  # the Dense layer's kernel and bias, nothing else

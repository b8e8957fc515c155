"""Ship a trained model: copy its compact weights into weights/ and write its model card.

The card is measured, not typed: PublicTest accuracy with and without the
faces that nearly duplicate a Training face, per-class recall, confusion
matrix, expected calibration error before and after temperature scaling, and
whether horizontal-flip test-time augmentation helps (kept only if it raises
accuracy).  It also checks what float16 storage costs against the run's
float32 weights of the same (best) epoch.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from fer_core import settings
from fer_core.constants import EMOTIONS, FACE_SIZE
from fer_core.lab.training import (
    BEST_FLOAT32,
    WILD_SOURCES,
    load_compact,
    load_validation_data,
    load_wild_validation,
)
from fer_core.lab.web_faces import WEB_FILES
from fer_core.models.metrics import expected_calibration_error, fit_temperature, metrics
from fer_core.models.nets import EXPECTED_PARAMS, PREPROCESSING, preprocess
from fer_core.models.registry import sha256


def _probs(model, x: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [np.asarray(model.predict_on_batch(x[i : i + 256]), np.float32) for i in range(0, len(x), 256)]
    )


def _new_version(card_file: Path, version: str) -> str:
    """``version``, or with a letter added where the card it replaces already has it (two runs shipped on one
    day, at the same epoch): every stored reading names the weights that made it, so no two share a version."""
    try:
        before = json.loads(card_file.read_text()).get("version")
    except (OSError, ValueError):
        return version
    rest = before[len(version) :] if isinstance(before, str) and before.startswith(version) else None
    if rest is None or not (rest == "" or (len(rest) == 1 and rest.islower())):
        return version
    return version + chr(max(ord(rest or "a"), ord("a")) + 1)


def write_card(
    *,
    model: str,
    weights: str,
    data_dir: str,
    run_dir: str | None = None,
    notes: str = "",
    weights_dir: str | Path | None = None,
    limit: int | None = None,
) -> dict:
    """Copy ``weights`` to FER_WEIGHTS_DIR/MODEL.npz and write its measured card; ``limit`` (tests only)
    evaluates on the first N PublicTest faces."""
    from fer_core.models.metrics import apply_temperature
    from fer_core.models.nets import build_classifier

    out_dir = Path(weights_dir) if weights_dir else settings.current().weights_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    xv, yv = load_validation_data(data_dir)
    near_dup = np.load(Path(data_dir) / "fer2013_publictest.npz")["near_dup_in_train"].astype(bool)
    if limit:
        xv, yv, near_dup = xv[:limit], yv[:limit], near_dup[:limit]
    x = preprocess(xv)

    run = Path(run_dir) if run_dir else Path(weights).parent
    train_cfg = json.loads((run / "config.json").read_text()) if (run / "config.json").exists() else {}
    size = int(train_cfg.get("backbone_size") or FACE_SIZE)
    net = build_classifier(backbone=model, backbone_size=size)
    load_compact(net, weights)
    plain = _probs(net, x)
    flipped = (plain + _probs(net, x[:, :, ::-1])) / 2
    acc_plain = float(np.mean(plain.argmax(1) == yv))
    acc_flip = float(np.mean(flipped.argmax(1) == yv))
    tta = acc_flip > acc_plain
    raw = flipped if tta else plain
    temperature = fit_temperature(yv, raw)
    if expected_calibration_error(yv, apply_temperature(raw, temperature)) >= expected_calibration_error(yv, raw):
        temperature = 1.0  # kept only where it lowers the calibration error
    probs = apply_temperature(raw, temperature)
    wild = {}  # the in-the-wild test splits and validation parts, scored as PublicTest is (same TTA, temperature)
    crops = Path(run_dir).parent / "crops" if run_dir else None  # the run's own crops of RAF-DB and AffectNet
    for name, (xw, yw) in load_wild_validation(data_dir, cache_dir=crops).items():
        if limit:
            xw, yw = xw[:limit], yw[:limit]
        pw = _probs(net, preprocess(xw))
        if tta:
            pw = (pw + _probs(net, preprocess(xw)[:, :, ::-1])) / 2
        key = f"{name}_val" if name in WEB_FILES else Path(WILD_SOURCES[name][1]).stem
        wild[key] = metrics(yw, apply_temperature(pw, temperature))

    state = json.loads((run / "state.json").read_text()) if (run / "state.json").exists() else {}
    fp16_check = _float16_cost(model, run, x, yv, size)
    history = []
    if (run / "history.csv").exists():  # per-epoch record, so the next session knows where training stands
        import csv

        with open(run / "history.csv") as f:
            history = [
                {k: (round(float(v), 5) if k != "epoch" else int(v) + 1) for k, v in row.items()}
                for row in csv.DictReader(f)
            ]

    dest = out_dir / f"{model}.npz"
    version = _new_version(out_dir / f"{model}.json", time.strftime("%Y.%m.%d") + f"-e{state.get('best_epoch', '?')}")
    if Path(weights).resolve() != dest.resolve():
        shutil.copyfile(weights, dest)
    card = {
        "name": model,
        "version": version,
        "architecture": f"keras.applications.{'ResNet50' if model == 'resnet50' else 'VGG16'}(weights=None, "
        "include_top=False) + GlobalAveragePooling2D + Dropout(0.2) + Dense(7, softmax)"
        + (
            f", the input enlarged to {size}x{size} (bilinear Resizing) before the backbone"
            if size != FACE_SIZE
            else ""
        ),
        "input": "48x48 grayscale face crop repeated to 3 channels, scaled to [-1, 1]",
        "backbone_size": size,
        "preprocessing": PREPROCESSING,
        "params": EXPECTED_PARAMS[model],
        "labels": list(EMOTIONS),
        "training_data": "FER-2013 Training (28,709 faces less 12 blank ones)"
        + (
            f"; targets mix FER+ votes at weight {train_cfg.get('ferplus_mix')}"
            if train_cfg.get("ferplus_mix")
            else "; FER-2013 hard labels"
        )
        + (f"; mixed in (times per epoch): {train_cfg['mix']}" if train_cfg.get("mix") else ""),
        "training": {
            k: train_cfg.get(k)
            for k in (
                "epochs",
                "batch_size",
                "learning_rate",
                "class_weight_power",
                "ferplus_mix",
                "label_smoothing",
                "mixed_bfloat16",
                "seed",
                "init_weights",
                "schedule",
                "backbone_size",
                "mix",
                "optimizer",
                "weight_decay",
                "photometric",
                "select",
                "limit_train",
                "head_refit",  # only the final layer refitted on frozen features (fer_core/lab/head_refit.py)
            )
        },
        "epochs_trained": state.get("last_epoch"),
        "best_epoch": state.get("best_epoch"),
        "backend": state.get("backend", "tensorflow"),
        "date": time.strftime("%Y-%m-%d"),
        "weights_file": dest.name,
        "weights_format": "float16 .npz (one array per Keras weight, in model.get_weights() order)",
        "sha256": sha256(dest),
        "tta_flip": bool(tta),
        "accuracy_without_tta": round(100 * acc_plain, 2),
        "accuracy_with_tta": round(100 * acc_flip, 2),
        "temperature": temperature,
        "ece_before_temperature": round(expected_calibration_error(yv, raw), 4),
        "publictest": metrics(yv, probs),
        "publictest_without_near_dups": metrics(yv[~near_dup], probs[~near_dup]),
        **wild,
        "float16_check": fp16_check,
        "history": history,
        "notes": notes,
    }
    (out_dir / f"{model}.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


def _float16_cost(model: str, run: Path, x: np.ndarray, y: np.ndarray, size: int = FACE_SIZE) -> dict | None:
    """Accuracy of the run's best float32 weights (runs before this file existed: the latest epoch's
    checkpoint), and of the same weights rounded to float16."""
    ckpt, which = run / BEST_FLOAT32, "best epoch"
    if not ckpt.exists():
        ckpt, which = run / "backup" / "latest.weights.h5", "latest epoch"
    if not ckpt.exists():
        return None
    from fer_core.models.nets import build_classifier

    net = build_classifier(backbone=model, backbone_size=size)
    try:
        net.load_weights(str(ckpt), skip_mismatch=True)
    except Exception as exc:  # a checkpoint written by another Keras version, say
        return {"error": str(exc)}
    acc32 = float(np.mean(_probs(net, x).argmax(1) == y))
    net.set_weights([w.astype(np.float16).astype(np.float32) for w in net.get_weights()])
    acc16 = float(np.mean(_probs(net, x).argmax(1) == y))
    return {
        "checkpoint": which,
        "accuracy_float32": round(100 * acc32, 2),
        "accuracy_float16": round(100 * acc16, 2),
        "difference_points": round(100 * (acc16 - acc32), 2),
    }

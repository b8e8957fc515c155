"""Train a classifier on FER-2013 Training, validating on PublicTest.

Resumable: every epoch writes a full checkpoint (weights, optimizer, epoch)
through Keras' BackupAndRestore, and ``resume=True`` continues from it.  The
best epoch (by PublicTest accuracy) is also kept as compact float16 weights,
``best.npz``, which is what ships and what a later session can start from
with ``init_weights``.  Augmentation is plain NumPy/OpenCV so the same code
runs on any Keras 3 backend (TensorFlow here, JAX on a GPU machine).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import cv2
import keras
import numpy as np

from fer_core.constants import FACE_SIZE, MODELS, NUM_CLASSES
from fer_core.lab.web_faces import WEB_FILES, has_web_crops, load_web_faces, masked_targets

# FER+ vote columns -> FER-2013 class index (contempt, unknown, not-a-face dropped).
FERPLUS_TO_FER = {0: 6, 1: 3, 2: 5, 3: 4, 4: 0, 5: 1, 6: 2}


@dataclass
class TrainConfig:
    model: str
    data_dir: str = "../shared/data"
    out_dir: str = "runs"
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float | None = None  # None: the model's default (constants.MODELS)
    class_weight_power: float = 0.5  # 0: none, 1: fully balanced; 0.5 is sqrt-balanced
    ferplus_mix: float = 0.0  # weight of FER+ vote distribution in the target (0 = hard FER-2013 labels)
    label_smoothing: float = 0.0
    mixed_bfloat16: bool = False
    patience: int = 8
    limit_train: int = 0  # >0: use only this many training faces (tests, smoke runs)
    limit_val: int = 0
    seed: int = 1234
    init_weights: str | None = None  # compact .npz to start from (e.g. the shipped weights)
    schedule: str = "plateau"  # "plateau": halve on a 3-epoch plateau; "cosine": decay to 1% over `epochs`
    backbone_size: int = FACE_SIZE  # >48: the net enlarges its 48x48 input to this size (see nets)
    # In-the-wild training sets mixed into FER-2013, as {source: times each face is seen per epoch},
    # e.g. {"expw": 1.0, "sfew": 2.0}; fractions draw a fixed random part of the source.
    mix: dict = field(default_factory=dict)
    optimizer: str = "adam"  # "adam", or "sgd" (Nesterov, momentum 0.9, as Khaireddin & Chen 2021)
    weight_decay: float = 0.0
    photometric: bool = False  # random gamma as well: SFEW's movie frames are darker than FER-2013's
    # Which validation accuracy picks the best epoch: "publictest", or "mean" of PublicTest, ExpW test
    # and SFEW test (the in-the-wild sets are scored every epoch whenever their files exist).
    select: str = "publictest"
    # "head": only the final Dense layer learns (the backbone's features stay as trained, batch norm frozen):
    # a cheap way to refit what the features mean on new data, e.g. the 96 px ResNet50 on the wild mix.
    train_part: str = "all"
    # >0: each epoch trains on this many faces drawn afresh from the whole set (a different part each epoch),
    # so that an epoch, and its checkpoint, comes every few minutes however large the mix
    epoch_faces: int = 0
    extra: dict = field(default_factory=dict)


# float32 twin of a run's best.npz: the model card measures what float16 storage costs against it
BEST_FLOAT32 = "best_float32.weights.h5"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- data
def load_training_data(data_dir: str | Path, *, ferplus_mix: float = 0.0):
    """Return (x uint8 (N,48,48), targets float32 (N,7), hard labels (N,))."""
    data_dir = Path(data_dir)
    d = np.load(data_dir / "fer2013_train.npz")
    x, y = d["x"], d["y"].astype(np.int64)
    keep = x.reshape(len(x), -1).std(axis=1) > 1.0  # FER-2013 has a dozen blank images
    x, y = x[keep], y[keep]
    rows = d["row"][keep]
    targets = np.eye(NUM_CLASSES, dtype=np.float32)[y]
    if ferplus_mix > 0:
        soft = ferplus_soft_labels(data_dir, rows)
        has = soft.sum(axis=1) > 0
        targets[has] = (1 - ferplus_mix) * targets[has] + ferplus_mix * soft[has]
        log(f"FER+ votes mixed in for {int(has.sum())} of {len(x)} training faces (weight {ferplus_mix})")
    return x, targets, y


def ferplus_soft_labels(data_dir: Path, rows: np.ndarray) -> np.ndarray:
    """FER+ vote distributions over the 7 FER-2013 classes, joined on the csv row (zeros where missing)."""
    fp = np.load(data_dir / "ferplus_train.npz")
    votes = fp["votes"].astype(np.float32)
    dist = np.zeros((len(votes), NUM_CLASSES), np.float32)
    for src, dst in FERPLUS_TO_FER.items():
        dist[:, dst] = votes[:, src]
    total = dist.sum(axis=1, keepdims=True)
    dist = np.divide(dist, total, out=np.zeros_like(dist), where=total > 0)
    by_row = {int(r): i for i, r in enumerate(fp["row"]) if r >= 0}
    out = np.zeros((len(rows), NUM_CLASSES), np.float32)
    for i, r in enumerate(rows):
        j = by_row.get(int(r))
        if j is not None:
            out[i] = dist[j]
    return out


def load_validation_data(data_dir: str | Path):
    d = np.load(Path(data_dir) / "fer2013_publictest.npz")
    return d["x"], d["y"].astype(np.int64)


# In-the-wild sets: training file, test file. ExpW's crops are a detector's square box, used as they come;
# SFEW's `x` is the organisers' centre square and `x_full` the whole aligned frame. RAF-DB and AffectNet
# (fer_core.lab.web_faces) have no test split here: their validation part is held out of the training file.
WILD_SOURCES = {
    "expw": ("expw_train.npz", "expw_test.npz"),
    "sfew": ("sfew2_train.npz", "sfew2_test.npz"),
    "rafdb": (WEB_FILES["rafdb"], WEB_FILES["rafdb"]),
    "affectnet": (WEB_FILES["affectnet"], WEB_FILES["affectnet"]),
}


def load_wild_validation(
    data_dir: str | Path, *, cache_dir: Path | None = None, web: bool | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{source: (x, y)} of the in-the-wild test splits present in ``data_dir``, and the RAF-DB and AffectNet
    validation parts where ``web`` (default: where their crops are cached already; cutting AffectNet's faces
    takes minutes, worth it for a run that trains on them, not for one that does not)."""
    out = {}
    for name, (_, test_file) in WILD_SOURCES.items():
        path = Path(data_dir) / test_file
        if name in WEB_FILES:
            wanted = has_web_crops(name, cache_dir) if web is None else web
            if wanted and (path.exists() or has_web_crops(name, cache_dir)):
                out[name] = load_web_faces(data_dir, name, "val", cache_dir=cache_dir)
        elif path.exists():
            d = np.load(path)
            out[name] = (d["x"], d["y"].astype(np.int64))
    return out


def load_wild_training(data_dir: str | Path, mix: dict, *, seed: int, cache_dir: Path | None = None):
    """In-the-wild training faces to add to FER-2013: (x, y, targets, source index per face).

    Targets are one-hot, with -1 in the classes a source never labels (AffectNet's neutral).

    SFEW gives each face twice: its centre square as the organisers cut it (as its test split is scored),
    and its full frame re-cropped as :func:`crop.face_crop` frames a detected face (as the product sees it).
    """
    xs, ys, ts, src = [], [], [], []
    for k, (name, times) in enumerate(sorted(mix.items())):
        if name not in WILD_SOURCES:
            raise ValueError(f"unknown source {name!r} to mix in: use {sorted(WILD_SOURCES)}")
        if name in WEB_FILES:
            x, y = load_web_faces(data_dir, name, "train", cache_dir=cache_dir)
        else:
            d = np.load(Path(data_dir) / WILD_SOURCES[name][0])
            x, y = d["x"], d["y"].astype(np.int64)
        if name == "expw":
            clean = ~d["dup_conflict"]
            x, y = x[clean], y[clean]
        if name == "sfew":  # (a packed copy for a GPU machine has no full frames, only their cached crops)
            full = d["x_full"] if "x_full" in d.files else None
            x = np.concatenate([x, recrop_full_frames(full, d["x"], cache_dir=cache_dir)])
            y = np.concatenate([y, y])
        reps = int(times) * [np.arange(len(x))]
        if times % 1:
            rng = np.random.default_rng([seed, k])
            reps.append(rng.permutation(len(x))[: int(round((times % 1) * len(x)))])
        idx = np.concatenate(reps) if reps else np.zeros(0, np.int64)
        xs.append(x[idx]), ys.append(y[idx]), src.append(np.full(len(idx), k + 1))
        ts.append(masked_targets(y[idx], name))
        log(f"mixed in {name}: {len(idx)} faces ({times} x {len(x)})")
    if not xs:
        empty = np.zeros(0, np.int64)
        return np.zeros((0, FACE_SIZE, FACE_SIZE), np.uint8), empty, np.zeros((0, NUM_CLASSES), np.float32), empty
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ts), np.concatenate(src)


def recrop_full_frames(full: np.ndarray | None, fallback: np.ndarray, *, cache_dir: Path | None = None) -> np.ndarray:
    """Detect the face in each full frame and crop it as the product does; ``fallback`` where none is found.

    The result is cached in ``cache_dir`` so a resumed run trains on exactly the same crops.
    """
    cache = cache_dir / "sfew_recrop.npz" if cache_dir else None
    if cache and cache.exists():
        return np.load(cache)["x"]
    if full is None:
        raise FileNotFoundError(f"no full SFEW frames and no cached crops of them in {cache_dir}")
    from fer_core.vision.crop import face_crop
    from fer_core.vision.detection import FaceDetector

    detector = FaceDetector(min_face_px=20)
    out, found = fallback.copy(), 0
    for i, img in enumerate(full):
        # The aligned face fills the frame: pad it so the detector sees it at a size it knows.
        pad = max(img.shape) // 2
        bgr = cv2.cvtColor(
            cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0), cv2.COLOR_GRAY2BGR
        )
        faces = detector.detect(bgr)
        if faces:
            x, y, w, h = max(faces, key=lambda f: f.w * f.h).box
            out[i] = face_crop(bgr, (x, y, w, h))
            found += 1
    log(f"SFEW full frames re-cropped: a face found in {found} of {len(full)}")
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, x=out)
    return out


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Per-class weights (counts / mean count) ** -power, normalised to mean 1 over samples."""
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(np.float64)
    w = (counts.mean() / np.maximum(counts, 1)) ** power
    w /= (w[labels]).mean()
    return w.astype(np.float32)


def augment(batch: np.ndarray, rng: np.random.Generator, *, photometric: bool = False) -> np.ndarray:
    """Random flip, rotation, shift, zoom, brightness, contrast and a small occluding patch
    (and, with ``photometric``, a random gamma)."""
    out = np.empty_like(batch)
    n = len(batch)
    c = FACE_SIZE / 2
    angles = rng.uniform(-15, 15, n)
    scales = rng.uniform(0.9, 1.12, n)
    shifts = rng.uniform(-0.1, 0.1, (n, 2)) * FACE_SIZE
    flips = rng.random(n) < 0.5
    for i in range(n):
        m = cv2.getRotationMatrix2D((c, c), angles[i], scales[i])
        m[:, 2] += shifts[i]
        img = cv2.warpAffine(batch[i], m, (FACE_SIZE, FACE_SIZE), borderMode=cv2.BORDER_REFLECT_101)
        out[i] = img[:, ::-1] if flips[i] else img
    f = out.astype(np.float32)
    contrast = rng.uniform(0.7, 1.3, (n, 1, 1))
    brightness = rng.uniform(-0.15, 0.15, (n, 1, 1)) * 255
    mean = f.mean(axis=(1, 2), keepdims=True)
    f = (f - mean) * contrast + mean + brightness
    if photometric:
        gamma = np.exp(rng.uniform(np.log(0.6), np.log(1.6), (n, 1, 1)))
        f = 255.0 * (np.clip(f, 0, 255) / 255.0) ** gamma
    # Occlusion (hands, glasses, masks) is one of the study's named hard cases.
    for i in np.flatnonzero(rng.random(n) < 0.25):
        h, w = rng.integers(8, 20, 2)
        y0, x0 = rng.integers(0, FACE_SIZE - h), rng.integers(0, FACE_SIZE - w)
        f[i, y0 : y0 + h, x0 : x0 + w] = rng.uniform(0, 255)
    return np.clip(f, 0, 255).astype(np.uint8)


def masked_crossentropy(label_smoothing: float = 0.0):
    """Cross-entropy over the classes a face's source labels: a target of -1 marks a class left out.

    The softmax is renormalised over the remaining classes, so an AffectNet face (no neutral class in its
    source) says "angry rather than fear" without saying "not neutral". Equal to plain categorical
    cross-entropy where no class is left out.
    """
    ops = keras.ops

    def loss(y_true, y_pred):
        asked = ops.cast(y_true >= 0, y_pred.dtype)
        target = ops.maximum(ops.cast(y_true, y_pred.dtype), 0.0)
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing * asked / ops.sum(asked, -1, keepdims=True)
        p = ops.clip(y_pred, 1e-7, 1.0) * asked
        p = p / ops.sum(p, axis=-1, keepdims=True)
        return -ops.sum(target * ops.log(ops.clip(p, 1e-7, 1.0)), axis=-1)

    return loss


class FerSequence(keras.utils.PyDataset):
    """Augmented, shuffled batches (x, target, sample weight); the order depends only on (seed, epoch).

    With ``epoch_faces`` each epoch is that many faces of a fresh permutation (all of them at most).
    """

    def __init__(
        self, x, targets, sample_w, *, batch_size: int, seed: int, photometric: bool = False, epoch_faces: int = 0
    ):
        super().__init__(workers=1, use_multiprocessing=False)
        self.x, self.targets, self.sample_w = x, targets, sample_w
        self.batch_size, self.seed, self.photometric = batch_size, seed, photometric
        self.size = min(epoch_faces, len(x)) if epoch_faces else len(x)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.order = np.random.default_rng([self.seed, epoch]).permutation(len(self.x))[: self.size]

    def __len__(self):
        return math.ceil(self.size / self.batch_size)

    def __getitem__(self, i):
        from fer_core.models.nets import preprocess

        idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        batch = augment(self.x[idx], rng, photometric=self.photometric)
        return preprocess(batch), self.targets[idx], self.sample_w[idx]


# ----------------------------------------------------------------------------- weights io
def save_compact(model, path: str | Path) -> None:
    """Save the weights as float16 arrays in one .npz (about half the float32 size)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"w{i:03d}": np.asarray(w).astype(np.float16) for i, w in enumerate(model.get_weights())}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)  # atomic: a killed run never leaves half a file


def load_compact(model, path: str | Path) -> None:
    with np.load(path) as data:
        arrays = [data[k].astype(np.float32) for k in sorted(data.files)]
    model.set_weights(arrays)


# ----------------------------------------------------------------------------- training
def cosine_lr(epoch: int, *, base: float, epochs: int, floor: float = 0.01) -> float:
    """Cosine decay from `base` at epoch 0 to `base * floor` at the last epoch.

    A function of the epoch alone, so a resumed run picks up the same rate.  Fine-tuning a
    converging net at a falling rate gains more per epoch than a constant one (measured in the README).
    """
    t = epoch / max(epochs - 1, 1)
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def resumed_config(given: TrainConfig, defaults: TrainConfig) -> TrainConfig:
    """The settings a resumed run goes on with: those it saved, changed only where `given` differs from `defaults`.

    Without this, `train --resume --out RUN --model M` would go on with the command line's defaults (all of
    FER-2013, no mix, 60 epochs) over the saved weights of a different run.
    """
    path = Path(given.out_dir) / given.model / "config.json"
    if not path.exists():
        return given
    saved = json.loads(path.read_text())
    changed = {
        f.name: getattr(given, f.name) for f in fields(given) if getattr(given, f.name) != getattr(defaults, f.name)
    }
    if changed:
        log("resumed with changed settings: " + ", ".join(f"{k}={v}" for k, v in changed.items() if k != "out_dir"))
    known = {f.name for f in fields(TrainConfig)}
    merged = {**saved, **changed, "out_dir": given.out_dir}
    return TrainConfig(**{k: v for k, v in merged.items() if k in known})


def train(cfg: TrainConfig, *, resume: bool = False) -> dict:
    """Run training; returns a summary dict (best val accuracy, epochs run, paths)."""
    from fer_core.models.nets import build_classifier, preprocess

    # checked before minutes of data loading, not after
    if cfg.schedule not in ("plateau", "cosine"):
        raise ValueError(f"unknown schedule {cfg.schedule!r}: use 'plateau' or 'cosine'")
    if cfg.optimizer not in ("adam", "sgd"):
        raise ValueError(f"unknown optimizer {cfg.optimizer!r}: use 'adam' or 'sgd'")
    if cfg.select not in ("publictest", "mean"):
        raise ValueError(f"unknown selection {cfg.select!r}: use 'publictest' or 'mean'")
    if cfg.train_part not in ("all", "head"):
        raise ValueError(f"unknown part {cfg.train_part!r}: use 'all' or 'head'")
    run_dir = Path(cfg.out_dir) / cfg.model
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / "state.json"
    state = json.loads(state_path.read_text()) if resume and state_path.exists() else {}
    if not resume and (run_dir / "backup").exists():
        raise FileExistsError(f"{run_dir} holds an earlier run: pass --resume to continue it, or pick another --out")
    (run_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2))

    if cfg.mixed_bfloat16:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(cfg.seed)

    x, targets, labels = load_training_data(cfg.data_dir, ferplus_mix=cfg.ferplus_mix)
    xv, yv = load_validation_data(cfg.data_dir)
    crops_cache = Path(cfg.out_dir) / "crops"  # shared by the models of one run folder
    wild_val = load_wild_validation(cfg.data_dir, cache_dir=crops_cache, web=bool(set(cfg.mix) & set(WEB_FILES)))
    if cfg.mix:
        xw, yw, tw, _ = load_wild_training(cfg.data_dir, cfg.mix, seed=cfg.seed, cache_dir=crops_cache)
        x, labels = np.concatenate([x, xw]), np.concatenate([labels, yw])
        targets = np.concatenate([targets, tw])
    if cfg.limit_train:
        pick = np.random.default_rng(cfg.seed).permutation(len(x))[: cfg.limit_train]
        x, targets, labels = x[pick], targets[pick], labels[pick]
    if cfg.limit_val:
        xv, yv = xv[: cfg.limit_val], yv[: cfg.limit_val]
        wild_val = {k: (a[: cfg.limit_val], b[: cfg.limit_val]) for k, (a, b) in wild_val.items()}
    weights = class_weights(labels, cfg.class_weight_power)[labels]
    log(f"{cfg.model}: {len(x)} training faces, {len(xv)} validation faces, backend {keras.backend.backend()}")

    model = build_classifier(backbone=cfg.model, backbone_size=cfg.backbone_size)
    if cfg.init_weights and not state:
        load_compact(model, cfg.init_weights)
        log(f"started from {cfg.init_weights}")
    if cfg.train_part == "head":
        for layer in model.layers:
            layer.trainable = layer.name == "emotion"
    lr = cfg.learning_rate or MODELS[cfg.model].learning_rate
    if cfg.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(
            learning_rate=lr, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay or None
        )
    else:
        optimizer = keras.optimizers.Adam(learning_rate=lr, weight_decay=cfg.weight_decay or None)
    model.compile(
        optimizer=optimizer,
        loss=masked_crossentropy(cfg.label_smoothing),
        metrics=["accuracy"],
    )
    seq = FerSequence(
        x,
        targets,
        weights,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        photometric=cfg.photometric,
        epoch_faces=cfg.epoch_faces,
    )
    val = (preprocess(xv), np.eye(NUM_CLASSES, dtype=np.float32)[yv])

    best_path = run_dir / "best.npz"
    callbacks = [
        # first: the callbacks after it read the accuracies it adds to the epoch's logs
        WildValidation(wild_val, select=cfg.select, batch_size=256),
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), save_freq="epoch", delete_checkpoint=False),
        BestCompact(best_path, state_path, best=state.get("best_val_accuracy", -1.0), cfg=cfg),
        schedule_callback(cfg, lr),
        keras.callbacks.EarlyStopping(monitor=SELECTION_KEY, mode="max", patience=cfg.patience),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
        Progress(seq, n_train=seq.size, epochs=cfg.epochs, batch_size=cfg.batch_size),
    ]
    model.fit(seq, validation_data=val, epochs=cfg.epochs, callbacks=callbacks, verbose=0, batch_size=cfg.batch_size)
    final = json.loads(state_path.read_text()) if state_path.exists() else {}
    final.update(best_weights=str(best_path))
    return final


def schedule_callback(cfg: TrainConfig, lr: float) -> keras.callbacks.Callback:
    if cfg.schedule == "cosine":
        return keras.callbacks.LearningRateScheduler(lambda epoch: cosine_lr(epoch, base=lr, epochs=cfg.epochs))
    return keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=0.5, patience=3, min_lr=1e-6)


SELECTION_KEY = "val_selection"


class WildValidation(keras.callbacks.Callback):
    """Score the in-the-wild test splits each epoch (``val_expw_accuracy``, ``val_sfew_accuracy``) and set
    ``val_selection``, the accuracy that picks the best epoch."""

    def __init__(self, sets: dict, *, select: str, batch_size: int):
        super().__init__()
        from fer_core.models.nets import preprocess

        self.sets = {k: (preprocess(x), y) for k, (x, y) in sets.items()}
        self.select, self.batch_size = select, batch_size

    def on_epoch_end(self, epoch, logs=None):
        scores = [float(logs.get("val_accuracy", -1))]
        for name, (x, y) in self.sets.items():
            pred = np.argmax(self.model.predict(x, batch_size=self.batch_size, verbose=0), axis=1)
            logs[f"val_{name}_accuracy"] = float(np.mean(pred == y))
            scores.append(logs[f"val_{name}_accuracy"])
        logs[SELECTION_KEY] = float(np.mean(scores)) if self.select == "mean" else scores[0]


class BestCompact(keras.callbacks.Callback):
    """Keep the best epoch's weights as float16 .npz plus a small state file (best score, epoch, backend)."""

    def __init__(self, path: Path, state_path: Path, *, best: float, cfg: TrainConfig):
        super().__init__()
        self.path, self.state_path, self.best, self.cfg = path, state_path, best, cfg

    def on_epoch_end(self, epoch, logs=None):
        acc = float(logs.get(SELECTION_KEY, logs.get("val_accuracy", -1)))
        state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        wild = {k: float(v) for k, v in logs.items() if k.startswith("val_") and k.endswith("_accuracy")}
        state.update(
            last_epoch=epoch + 1,
            last_val_accuracy=acc,
            backend=keras.backend.backend(),
            mixed_bfloat16=self.cfg.mixed_bfloat16,
            last_val=wild,
        )
        if acc > self.best:
            self.best = acc
            save_compact(self.model, self.path)
            self.model.save_weights(str(self.path.with_name(BEST_FLOAT32)))
            state.update(
                best_val_accuracy=acc,
                best_epoch=epoch + 1,
                best_val=wild,
                best_saved_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
            )
        self.state_path.write_text(json.dumps(state, indent=2))


class Progress(keras.callbacks.Callback):
    """One stderr line per epoch (and every 50 batches): loss, accuracy, images/s, time left."""

    def __init__(self, seq, *, n_train: int, epochs: int, batch_size: int):
        super().__init__()
        self.seq, self.n_train, self.epochs, self.batch_size = seq, n_train, epochs, batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self.t0, self.epoch = time.time(), epoch
        self.seq.set_epoch(epoch)  # the shuffle order depends on the epoch only, also after a resume

    def on_train_batch_end(self, batch, logs=None):
        if batch % 50 == 49:
            done = (batch + 1) * self.batch_size
            rate = done / (time.time() - self.t0)
            log(
                f"  epoch {self.epoch + 1} batch {batch + 1}/{len(self.seq)} loss {logs.get('loss', 0):.4f} "
                f"acc {logs.get('accuracy', 0):.4f} {rate:.1f} img/s, "
                f"epoch ends in {max(self.n_train - done, 0) / rate / 60:.1f} min"
            )

    def on_epoch_end(self, epoch, logs=None):
        dt = time.time() - self.t0
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        wild = "".join(
            f" {k[4:-9]} {v:.4f}"
            for k, v in logs.items()
            if k.startswith("val_") and k.endswith("_accuracy") and k != "val_accuracy"
        )
        log(
            f"epoch {epoch + 1}/{self.epochs} loss {logs['loss']:.4f} acc {logs['accuracy']:.4f} "
            f"val_loss {logs['val_loss']:.4f} val_acc {logs['val_accuracy']:.4f}{wild} lr {lr:.2e} "
            f"{self.n_train / dt:.1f} img/s, {dt / 60:.1f} min/epoch, "
            f"at most {(self.epochs - epoch - 1) * dt / 60:.0f} min left"
        )

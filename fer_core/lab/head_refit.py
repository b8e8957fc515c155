"""Refit a model's classifier head (its last Dense layer) on frozen pooled features of the whole training mix.

The backbone stays as shipped, so speed cannot change and only 7 x (D + 1) numbers move.  Each training and
validation face and its mirror image go through the backbone once (features kept in the output folder, for
the weights file they came from); the
head is then fitted by L-BFGS on the same loss as training (FER+ vote mix, AffectNet's neutral masked,
sqrt-balanced classes, sources weighed as ``mix`` says) plus ``penalty`` times its squared distance from the
shipped head, for each penalty in a list, strongest first, each started from the one before.  The penalty is
chosen by the mean accuracy over the five validation sets (PublicTest, ExpW test, SFEW test and the RAF-DB
and AffectNet validation parts), scored with flip TTA as the product scores a photo.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from fer_core.adapt import head_names, shipped_head
from fer_core.constants import NUM_CLASSES
from fer_core.lab.training import (
    BEST_FLOAT32,
    class_weights,
    load_training_data,
    load_validation_data,
    load_wild_training,
    load_wild_validation,
    log,
)
from fer_core.lab.web_faces import WEB_FILES
from fer_core.models.registry import sha256

PENALTIES = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)


def pooled_features(model, x: np.ndarray, *, batch: int = 256, mirrored: bool = True):
    """(features, features of the mirror images or None), float32 (N, D): the model's pooling layer's output."""
    from fer_core.models.engines import KerasFeatures
    from fer_core.models.nets import preprocess

    net = KerasFeatures(model)
    out = []
    for flip in (False, True) if mirrored else (False,):
        parts = []
        for i in range(0, len(x), batch):
            crops = x[i : i + batch]
            parts.append(net.features_on_batch(preprocess(crops[:, :, ::-1] if flip else crops))[1])
            if (i // batch) % 20 == 0:
                log(f"  features{' (mirrored)' if flip else ''}: {i + len(crops)} / {len(x)}")
        out.append(np.concatenate(parts) if parts else np.zeros((0, model.get_layer("gap").output.shape[-1])))
    return out[0], out[1] if mirrored else None


def cached_features(model, x: np.ndarray, path: Path, *, weights_hash: str, mirrored: bool = True):
    """``pooled_features``, read back from ``path`` when it holds them for these weights and as many faces."""
    if path.exists():
        with np.load(path) as d:
            same = str(d["weights_sha256"]) == weights_hash if "weights_sha256" in d.files else False
            if same and d["f"].shape[0] == len(x) and ("fm" in d.files or not mirrored):
                return d["f"], d["fm"] if mirrored else None
    f, fm = pooled_features(model, x, mirrored=mirrored)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = {"f": f.astype(np.float16), "weights_sha256": np.array(weights_hash)}
    np.savez(path, **kept, **({"fm": fm.astype(np.float16)} if mirrored else {}))
    return f, fm


def training_set(data_dir: str, mix: dict, *, ferplus_mix: float, seed: int, cache_dir: Path):
    """Faces once each, with targets (-1 where a source leaves a class out) and per-face weights: the class
    weights of training times each source's entry in ``mix`` (FER-2013 counts 1)."""
    x, targets, labels = load_training_data(data_dir, ferplus_mix=ferplus_mix)
    source_weight = np.ones(len(x))
    if mix:
        once = {name: 1 for name in mix}
        xw, yw, tw, src = load_wild_training(data_dir, once, seed=seed, cache_dir=cache_dir)
        times = np.array([0.0] + [float(mix[name]) for name in sorted(mix)])
        x, labels = np.concatenate([x, xw]), np.concatenate([labels, yw])
        targets = np.concatenate([targets, tw])
        source_weight = np.concatenate([source_weight, times[src]])
    weights = class_weights(labels, 0.5)[labels] * source_weight
    return x, targets, weights / weights.mean()


def fit_head(f, fm, targets, weights, kernel0, bias0, penalty: float, start=None):
    """Kernel (D, 7) and bias (7,) of least weighted masked cross-entropy on the faces (and their mirror
    images, unless ``fm`` is None), plus ``penalty`` times the squared distance from (kernel0, bias0)."""
    copies = 1 if fm is None else 2
    g = (f if fm is None else np.concatenate([f, fm])).astype(np.float32)
    t = np.concatenate([targets] * copies)
    w = np.concatenate([weights] * copies).astype(np.float64)
    asked = t >= 0
    target = np.where(asked, t, 0.0)
    d = kernel0.shape[0]
    scale = 1.0 / w.sum()

    def loss(theta):
        k = theta[: d * NUM_CLASSES].reshape(d, NUM_CLASSES)
        b = theta[d * NUM_CLASSES :]
        z = (g @ k.astype(np.float32)).astype(np.float64) + b
        z = np.where(asked, z, -np.inf)  # a class the source never labels is left out of its softmax
        logp = log_softmax(z, axis=1)
        p = np.where(asked, np.exp(logp), 0.0)
        ce = -(target * np.where(asked, logp, 0.0)).sum(axis=1)
        dk, db = k - kernel0, b - bias0
        value = scale * (w @ ce) + penalty * (float((dk * dk).sum()) + float(db @ db))
        grad_z = scale * w[:, None] * (p * target.sum(axis=1, keepdims=True) - target)
        gk = (g.T @ grad_z.astype(np.float32)).astype(np.float64) + 2 * penalty * dk
        gb = grad_z.sum(axis=0) + 2 * penalty * db
        return value, np.concatenate([gk.ravel(), gb])

    x0 = np.concatenate([kernel0.ravel(), bias0]) if start is None else np.concatenate([start[0].ravel(), start[1]])
    res = minimize(loss, x0, jac=True, method="L-BFGS-B", options={"maxiter": 300})
    return res.x[: d * NUM_CLASSES].reshape(d, NUM_CLASSES), res.x[d * NUM_CLASSES :]


def tta_probs(f, fm, kernel, bias) -> np.ndarray:
    """The face and its mirror image averaged, as the product's flip TTA does."""
    p = np.exp(log_softmax(f.astype(np.float64) @ kernel + bias, axis=1))
    pm = np.exp(log_softmax(fm.astype(np.float64) @ kernel + bias, axis=1))
    return (p + pm) / 2


def load_shipped(model_name: str, weights: Path):
    """(its card, the Keras model with these weights) for a compact weights file and the card beside it."""
    from fer_core.lab.training import load_compact
    from fer_core.models.nets import build_classifier

    card_file = Path(weights).with_suffix(".json")
    card = json.loads(card_file.read_text()) if card_file.exists() else {}
    model = build_classifier(backbone=model_name, backbone_size=int(card.get("backbone_size") or 48))
    load_compact(model, weights)
    return card, model


def refit(
    model_name: str,
    weights: str | Path,
    *,
    data_dir: str,
    out_dir: str | Path,
    mix: dict,
    ferplus_mix: float = 0.7,
    penalties=PENALTIES,
    seed: int = 7501,
    mirrored: bool = True,
    limit: int = 0,
) -> dict:
    """Fit the head for each penalty; write ``out_dir/<model>/best.npz`` (the shipped weights with the chosen
    head) and ``refit.json`` (every penalty's five validation accuracies). Returns that report."""
    out = Path(out_dir) / model_name
    out.mkdir(parents=True, exist_ok=True)
    crops_cache = Path(out_dir) / "crops"
    weights = Path(weights)
    _, model = load_shipped(model_name, weights)
    kernel0, bias0 = shipped_head(weights)

    x, targets, w = training_set(data_dir, mix, ferplus_mix=ferplus_mix, seed=seed, cache_dir=crops_cache)
    if limit:  # tests: a few faces of each kind
        pick = np.random.default_rng(seed).permutation(len(x))[:limit]
        x, targets, w = x[pick], targets[pick], w[pick]
    log(f"{model_name}: {len(x)} training faces{' (each with its mirror image)' if mirrored else ''}")
    digest = sha256(weights)
    f, fm = cached_features(model, x, out / "train_features.npz", weights_hash=digest, mirrored=mirrored)
    val = {"publictest": load_validation_data(data_dir)}
    val.update(load_wild_validation(data_dir, cache_dir=crops_cache, web=bool(set(mix) & set(WEB_FILES))))
    if limit:
        val = {k: (xv[:limit], yv[:limit]) for k, (xv, yv) in val.items()}
    val_features = {
        k: cached_features(model, xv, out / f"val_{k}_features.npz", weights_hash=digest) for k, (xv, _) in val.items()
    }

    def scores(kernel, bias):
        acc = {
            k: round(100 * float((tta_probs(*val_features[k], kernel, bias).argmax(1) == yv).mean()), 2)
            for k, (_, yv) in val.items()
        }
        return acc, round(float(np.mean(list(acc.values()))), 2)

    report = {"model": model_name, "weights": str(weights), "mix": mix, "ferplus_mix": ferplus_mix}
    report.update(training_faces=len(x), mirrored=mirrored)
    report["shipped"], report["shipped_mean"] = scores(kernel0, bias0)
    log(f"shipped head: {report['shipped']} mean {report['shipped_mean']}")
    fits, start = [], None
    for penalty in penalties:
        start = fit_head(f, fm, targets, w, kernel0, bias0, penalty, start)
        acc, mean = scores(*start)
        fits.append({"penalty": penalty, "accuracy": acc, "mean": mean})
        log(f"penalty {penalty:g}: {acc} mean {mean}")
        np.savez(out / f"head_{penalty:g}.npz", kernel=start[0], bias=start[1])
    best = max(fits, key=lambda r: r["mean"])
    report.update(fits=fits, chosen=best if best["mean"] > report["shipped_mean"] else None)
    if report["chosen"]:
        with np.load(out / f"head_{best['penalty']:g}.npz") as h:
            ship_head(
                model_name,
                weights,
                out,
                h["kernel"],
                h["bias"],
                mix=mix,
                ferplus_mix=ferplus_mix,
                penalty=best["penalty"],
                mirrored=mirrored,
            )
    (out / "refit.json").write_text(json.dumps(report, indent=2))
    return report


def ship_head(model_name: str, weights: Path, out: Path, kernel, bias, *, mix, ferplus_mix, penalty, mirrored) -> None:
    """Write ``out/best.npz`` (the shipped weights with this head) and what ``fer_core card`` reads from a run
    folder: the float32 twin (to measure what float16 storage costs), the recipe, the backbone's epoch."""
    weights = Path(weights)
    kernel_name, bias_name = head_names(weights)
    write_weights(weights, out / "best.npz", {kernel_name: kernel, bias_name: bias})
    card, model = load_shipped(model_name, weights)
    model.get_layer("emotion").set_weights([np.asarray(kernel, np.float32), np.asarray(bias, np.float32)])
    model.save_weights(str(out / BEST_FLOAT32))
    recipe = {**card.get("training", {}), "init_weights": f"{weights} ({card.get('version')})"}
    recipe.update(mix=mix, ferplus_mix=ferplus_mix, head_refit={"penalty": penalty, "mirrored": mirrored})
    (out / "config.json").write_text(json.dumps(recipe, indent=2))
    state = {k: card.get(k) for k in ("best_epoch", "backend")} | {"last_epoch": card.get("epochs_trained")}
    (out / "state.json").write_text(json.dumps(state, indent=2))


def write_weights(source: Path, target: Path, replace: dict) -> None:
    """A copy of the compact weights file ``source`` with the arrays named in ``replace``, float16 as all."""
    with np.load(source) as data:
        arrays = {k: (replace[k] if k in replace else data[k]).astype(np.float16) for k in data.files}
    tmp = target.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    shutil.move(tmp, target)

"""Which models exist, where their weights are, and how to load them (once).

Each model ships as two files in ``weights/``: ``NAME.npz`` (float16 weights)
and ``NAME.json``, its model card (architecture, training, PublicTest scores,
calibration temperature, sha256 of the weights file).  Loading checks the
sha256 and the array shapes, so a missing, truncated or foreign file gives a
clear error that names it, never random predictions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_core import settings
from fer_core.constants import FACE_SIZE, MODEL_NAMES
from fer_core.models.nets import EXPECTED_PARAMS, PREPROCESSING

WEIGHTS_DIR = settings.current().weights_dir  # as the process started; spec() reads it again


class WeightsError(Exception):
    """The models cannot be loaded: weights missing or unusable (the message names the file), or the
    engine asked for is not installed."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    weights_file: Path
    card_file: Path
    preprocessing: str = PREPROCESSING
    params: int = 0

    def card(self) -> dict:
        """The model card, or {} when none has been written yet; read once per version of the file."""
        try:
            stat = self.card_file.stat()
        except FileNotFoundError:
            return {}
        return dict(_read_card(str(self.card_file), stat.st_mtime_ns, stat.st_size))

    @property
    def version(self) -> str:
        return str(self.card().get("version", "untrained"))

    @property
    def temperature(self) -> float:
        return float(self.card().get("temperature", 1.0))

    @property
    def backbone_size(self) -> int:
        """Side the net enlarges its 48x48 input to; cards written before this field describe 48 px nets."""
        return int(self.card().get("backbone_size") or FACE_SIZE)


@functools.lru_cache(maxsize=32)
def _read_card(path: str, mtime_ns: int, size: int) -> dict:
    """Cached by path, modification time and size: a card rewritten by `card` is read again."""
    return json.loads(Path(path).read_text())


def spec(name: str, weights_dir: str | Path | None = None) -> ModelSpec:
    if name not in MODEL_NAMES:
        raise ValueError(f"model must be one of {MODEL_NAMES}; received {name!r}")
    d = Path(weights_dir) if weights_dir else settings.current().weights_dir
    return ModelSpec(
        name=name, weights_file=d / f"{name}.npz", card_file=d / f"{name}.json", params=EXPECTED_PARAMS[name]
    )


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_cache: dict[tuple[str, str], object] = {}
_lock = threading.RLock()


def load_model(name: str, weights_dir: str | Path | None = None):
    """Build the Keras model and load its shipped weights; cached per process."""
    s = spec(name, weights_dir)
    key = (name, str(s.weights_file))
    with _lock:
        if key not in _cache:
            _cache[key] = _load(s)
        return _cache[key]


def _load(s: ModelSpec):
    from fer_core.models.nets import build_classifier

    if not s.weights_file.is_file():
        raise WeightsError(
            f"no trained weights for {s.name}: {s.weights_file} does not exist. Train them with "
            f"`python -m fer_core train --model {s.name}` and `python -m fer_core card`."
        )
    expected = s.card().get("sha256")
    if expected and sha256(s.weights_file) != expected:
        raise WeightsError(
            f"{s.weights_file} does not match the sha256 in its model card {s.card_file}: "
            "the file is corrupt or was replaced without a new card"
        )
    model = build_classifier(backbone=s.name, backbone_size=s.backbone_size)
    try:
        with np.load(s.weights_file) as data:
            arrays = [data[k].astype(np.float32) for k in sorted(data.files)]
        model.set_weights(arrays)
    except Exception as exc:  # zip errors, missing keys, shape mismatches
        raise WeightsError(f"cannot load {s.weights_file} into {s.name}: {exc}") from None
    return model

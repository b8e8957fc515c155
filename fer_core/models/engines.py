"""Inference engines for the shipped Keras models: OpenVINO and LiteRT (converted once, cached beside the
weights) besides Keras itself (``registry.load_model``).

Every engine gives each face's probabilities (``predict_on_batch``) and, for a head fine-tuned to a population
(``fer_core.adapt``), also the pooled features the classifier head reads (``features_on_batch``): the converted
file has both outputs, so the backbone runs once either way."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np

from fer_core.constants import NUM_CLASSES
from fer_core.models.registry import ModelSpec, WeightsError, _load, sha256, spec

FORMAT = "f2"  # converted files with two outputs, probabilities and pooled features


# ----------------------------------------------------------------------------- fast inference (LiteRT, OpenVINO)
class LiteModel:
    """A model converted to LiteRT (TensorFlow Lite) and run by its interpreter: the same numbers as Keras
    (within 1e-5 here), without importing TensorFlow, and with no graph to trace on first use."""

    def __init__(self, path: Path, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self.path = path
        self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
        self._in = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        # the probabilities are the (N, 7) output; the other, if any, is the pooled features
        self._out = next(o["index"] for o in outputs if o["shape"][-1] == NUM_CLASSES)
        self._features = next((o["index"] for o in outputs if o["shape"][-1] != NUM_CLASSES), None)
        self._shape: tuple[int, ...] | None = None
        self._lock = threading.Lock()  # an interpreter must not run in two threads at once

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return self.features_on_batch(x)[0]

    def features_on_batch(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (N, 7), pooled features (N, D))."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._lock:
            if x.shape != self._shape:
                self._interpreter.resize_tensor_input(self._in, list(x.shape))
                self._interpreter.allocate_tensors()
                self._shape = x.shape
            self._interpreter.set_tensor(self._in, x)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._out).copy(), self._interpreter.get_tensor(self._features).copy()


class OpenVinoModel:
    """The same converted file run by OpenVINO's CPU runtime in float32: the LiteRT numbers (within 2e-6
    here), about a quarter faster on this AVX-512 CPU, so both models fit issue 7's video speed."""

    def __init__(self, path: Path, threads: int):
        import openvino as ov

        self.path = path
        core = ov.Core()
        model = core.read_model(str(path))
        face_shape = [d.get_length() for d in list(model.inputs[0].get_partial_shape())[1:]]  # 48, 48, 3
        # One network for every batch size: as fast here as one compiled per size, and each of those kept its
        # own copy of the weights (about 100 MB more per ResNet50 batch size seen).
        model.reshape([-1, *face_shape])
        # float32 on purpose: on a CPU with bfloat16 support OpenVINO would otherwise compute in bf16, whose
        # probabilities differ by about 1e-2. No pinning: the two models and the detector share the cores,
        # and pinned threads made video analysis 13% slower here.
        compiled = core.compile_model(
            model,
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": "f32",
                "INFERENCE_NUM_THREADS": threads,
                "PERFORMANCE_HINT": "LATENCY",
                "ENABLE_CPU_PINNING": False,
            },
        )
        last = [o.get_partial_shape()[-1].get_length() for o in compiled.outputs]
        self._out = last.index(NUM_CLASSES)
        self._features = next((i for i, d in enumerate(last) if d != NUM_CLASSES), None)
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()  # one infer request must not run in two threads at once
        # A first call here, in one thread (loading holds the registry's lock): OpenVINO's Python binding sets up
        # some of its state on first use, and two threads doing that at once (the two models' first batch)
        # deadlocked 1 fresh process in 25 here.
        self.predict_on_batch(np.zeros((1, *face_shape), np.float32))

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return self.features_on_batch(x)[0]

    def features_on_batch(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (N, 7), pooled features (N, D))."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._lock:
            out = self._request.infer([x])
            return np.array(out[self._out], dtype=np.float32), np.array(out[self._features], dtype=np.float32)


class KerasFeatures:
    """The Keras model with the pooled features as a second output (the engines' ``features_on_batch``)."""

    def __init__(self, model):
        import keras

        self._model = keras.Model(model.input, [model.output, model.get_layer("gap").output])

    def features_on_batch(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probs, features = self._model.predict_on_batch(np.asarray(x, dtype=np.float32))
        return np.asarray(probs, np.float32), np.asarray(features, np.float32)


def with_features(model):
    """An object whose ``features_on_batch`` gives (probabilities, pooled features) for ``model``, any engine's."""
    if isinstance(model, (LiteModel, OpenVinoModel)):
        return model
    with _lock:
        key = id(model)
        if key not in _keras_features:
            _keras_features[key] = KerasFeatures(model)
        return _keras_features[key]


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def litert_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def lite_file(name: str, weights_dir: str | Path | None = None, *, int8: bool = False) -> Path:
    """The LiteRT file made from the shipped weights: converted once (about 30 s, needs TensorFlow) and
    cached in ``weights/.cache/``, named after the weights' sha256 so new weights get a new file (and the
    files of earlier weights are removed).

    ``int8``: weights stored as int8 per output channel, activations quantized on the fly per batch
    (LiteRT's dynamic-range quantization; no calibration data). About 3x faster on this CPU; a full int8
    conversion calibrated on 400 Training faces was faster still but cost ResNet50 1.2 points of accuracy."""
    s = spec(name, weights_dir)
    if not s.weights_file.is_file():
        raise WeightsError(f"no trained weights for {s.name}: {s.weights_file} does not exist")
    digest = sha256(s.weights_file)
    expected = s.card().get("sha256")
    if expected and digest != expected:
        raise WeightsError(
            f"{s.weights_file} does not match the sha256 in its model card {s.card_file}: "
            "the file is corrupt or was replaced without a new card"
        )
    target = cached_file(s, digest, int8=int8)
    if not target.is_file():
        _convert(s, target, int8=int8)
        _remove_stale(target.parent, name, digest, _kind(s))
    return target


def _kind(s: ModelSpec) -> str:
    # the net's input size is in the card, not the weights: the same weights enlarged to another size inside
    # the net are another model
    return f"{FORMAT}x{s.backbone_size}"


def cached_file(s: ModelSpec, digest: str, *, int8: bool = False) -> Path:
    """Where the converted file of these weights (sha256 ``digest``), as the card builds them, is kept."""
    return s.weights_file.parent / ".cache" / f"{s.name}-{digest[:16]}-{_kind(s)}{'-int8' if int8 else ''}.tflite"


def _remove_stale(cache: Path, name: str, digest: str, kind: str) -> None:
    # Files made from earlier weights of this model, or in an earlier format, are never read again (94 MB
    # each for ResNet50).
    pattern = re.compile(rf"{re.escape(name)}-([0-9a-f]{{16}})(-[a-z0-9]+)?(-int8)?\.tflite")
    for old in cache.glob(f"{name}-*.tflite"):
        match = pattern.fullmatch(old.name)
        if match and (match.group(1) != digest[:16] or match.group(2) != f"-{kind}"):
            old.unlink(missing_ok=True)


def _convert(s: ModelSpec, target: Path, *, int8: bool = False) -> None:
    import keras
    import tensorflow as tf

    # Build in float32 whatever the process's policy (training sets mixed_bfloat16; LiteRT has no bf16 ops).
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        model = _load(s)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Freeze the weights into constants first: through a SavedModel, a net with a Resizing layer kept its
    # variables as resource ops (1,402 ops) and gave probabilities 0.39 away from Keras'; frozen it has 77
    # ops and matches within 2e-6.
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    both = keras.Model(model.input, [model.output, model.get_layer("gap").output])
    signature = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
    forward = tf.function(lambda x: both(x, training=False), input_signature=[signature])
    frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # without a representative dataset: dynamic range
    flat = converter.convert()
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    part.write_bytes(flat)
    os.replace(part, target)  # another process converting at the same time writes the same bytes


_lite: dict[tuple[str, str, int, bool], LiteModel] = {}
_keras_features: dict[int, KerasFeatures] = {}
_openvino: dict[tuple[str, str, int], OpenVinoModel] = {}
_lock = threading.Lock()


def load_openvino(name: str, weights_dir: str | Path | None = None, threads: int = 1) -> OpenVinoModel:
    """The model on OpenVINO's CPU runtime (from the same converted LiteRT file); cached per process."""
    key = (name, str(spec(name, weights_dir).weights_file), threads)
    with _lock:
        if key not in _openvino:
            _openvino[key] = OpenVinoModel(lite_file(name, weights_dir), threads)
        return _openvino[key]


def load_lite(name: str, weights_dir: str | Path | None = None, threads: int = 1, *, int8: bool = False) -> LiteModel:
    """The model on the LiteRT interpreter; cached per process (converted first if needed)."""
    key = (name, str(spec(name, weights_dir).weights_file), threads, int8)
    with _lock:
        if key not in _lite:
            _lite[key] = LiteModel(lite_file(name, weights_dir, int8=int8), threads)
        return _lite[key]

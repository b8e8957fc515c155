"""The study's two classifiers: a Keras application backbone plus a small head.

Both take a (N, 48, 48, 3) float32 batch made by :func:`preprocess` from
48x48 grayscale face crops, and return (N, 7) softmax probabilities in
FER-2013's order.  Nothing here touches weights files: see ``registry``.
"""

from __future__ import annotations

import numpy as np

from fer_core.constants import FACE_SIZE, MODEL_NAMES, MODELS, NUM_CLASSES

# Parameter counts of the study; a test checks the builders still match them.
EXPECTED_PARAMS = {m.name: m.params for m in MODELS.values()}

# Preprocessing id stored in model cards: gray crop -> 3 identical channels,
# pixel values scaled to [-1, 1] (the nets learn from scratch, so there is no
# ImageNet mean to honour).
PREPROCESSING = "gray48_to_3ch_scale_pm1"


def preprocess(crops: np.ndarray) -> np.ndarray:
    """Turn uint8 crops (N, 48, 48) into the float32 (N, 48, 48, 3) model input.

    Training and inference both call this one function, so they cannot drift.
    """
    crops = np.asarray(crops)
    if crops.ndim == 2:
        crops = crops[None]
    if crops.ndim != 3 or crops.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise ValueError(f"expected crops of shape (N, {FACE_SIZE}, {FACE_SIZE}); received {crops.shape}")
    x = crops.astype(np.float32) * (2.0 / 255.0) - 1.0
    return np.repeat(x[..., None], 3, axis=-1)


def build_classifier(
    *, backbone: str, num_classes: int = NUM_CLASSES, dropout: float = 0.2, backbone_size: int = FACE_SIZE
):
    """Build ``backbone`` (weights=None) + GlobalAveragePooling2D + Dropout + Dense softmax.

    ``backbone_size`` > 48 enlarges the 48x48 input inside the net (bilinear, no parameters) before the
    backbone: ResNet50's stem divides by 4, so at 48 px its later stages see only 3x3 and 2x2 maps.
    The input stays 48x48, so preprocessing, crops and stored data do not change.
    """
    if backbone not in MODEL_NAMES:
        raise ValueError(f"backbone must be one of {MODEL_NAMES}; received {backbone!r}")
    if backbone_size < FACE_SIZE:
        raise ValueError(f"backbone_size must be at least {FACE_SIZE}; received {backbone_size}")
    import keras  # lazy: importing fer_core must stay cheap

    apps = {"resnet50": keras.applications.ResNet50, "vgg16": keras.applications.VGG16}
    inputs = keras.Input(shape=(FACE_SIZE, FACE_SIZE, 3), name="face")
    x = inputs
    if backbone_size != FACE_SIZE:
        x = keras.layers.Resizing(backbone_size, backbone_size, interpolation="bilinear", name="enlarge")(x)
    base = apps[backbone](include_top=False, weights=None, input_tensor=x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(base.output)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    # float32 output keeps softmax exact under a mixed_bfloat16 policy.
    outputs = keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="emotion")(x)
    return keras.Model(inputs, outputs, name=f"fer_{backbone}")

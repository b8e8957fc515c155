"""Emotion analytics core: media in, per-face emotions by two FER-2013 models out.

Importing this package is cheap: TensorFlow and the models load on first use.
"""

from fer_core.analyzer import AnalysisResult, Analyzer
from fer_core.config import AnalyzerConfig
from fer_core.constants import EMOTIONS, ENSEMBLE, MODEL_NAMES
from fer_core.models.registry import WeightsError
from fer_core.vision.media import MediaError

__all__ = [
    "Analyzer",
    "AnalysisResult",
    "AnalyzerConfig",
    "EMOTIONS",
    "ENSEMBLE",
    "MODEL_NAMES",
    "MediaError",
    "WeightsError",
]

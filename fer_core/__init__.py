"""Emotion analytics core: media in, per-face emotions by two FER-2013 models out.

Importing this package is cheap: TensorFlow and the models load on first use.
"""
from .analyzer import AnalysisResult, Analyzer
from .config import AnalyzerConfig
from .constants import EMOTIONS, ENSEMBLE, MODEL_NAMES
from .media import MediaError
from .registry import WeightsError

__all__ = ["Analyzer", "AnalysisResult", "AnalyzerConfig", "EMOTIONS", "ENSEMBLE", "MODEL_NAMES", "MediaError",
           "WeightsError"]

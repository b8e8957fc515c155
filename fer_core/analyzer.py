"""The one object that turns photos and videos into per-face emotions by every model.

    analyzer = Analyzer(AnalyzerConfig.from_env())
    result = analyzer.analyze_file("session.mp4", on_progress=print)
    result.faces        # list of dicts, the JSON records of `python -m fer_core analyze`
    result.to_frame()   # pandas DataFrame, one row per (face, model), columns from constants

The detector and the models load lazily, once per Analyzer (and the models
once per process, through the registry).  Faces of many frames are classified
in one batched call per model.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import constants as C
from .config import AnalyzerConfig
from .crop import face_crop
from .media import Frame, face_jpeg, media_kind, read_image, sample_video, video_info
from .tracking import Tracker

ProgressFn = Callable[[float, str], None]


@dataclass
class AnalysisResult:
    file: str
    kind: str  # "photo" or "video"
    width: int
    height: int
    fps: float | None = None
    duration_s: float | None = None
    frames_analyzed: int = 0
    faces: list[dict] = field(default_factory=list)
    thumbnails: list[bytes] = field(default_factory=list)  # JPEG per face, when asked for
    warnings: list[str] = field(default_factory=list)  # things the user should know, e.g. limits applied

    def to_frame(self):
        """Long table: one row per (face, model incl. ensemble), probabilities as columns."""
        import pandas as pd

        rows = []
        for f in self.faces:
            base = {C.COL_FILE: f["file"], C.COL_FRAME: f["frame"], C.COL_T_S: f["t_s"],
                    C.COL_X: f["box"][0], C.COL_Y: f["box"][1], C.COL_W: f["box"][2], C.COL_H: f["box"][3],
                    C.COL_DET_SCORE: f["det_score"], C.COL_TRACK: f["track"]}
            for model, p in f["predictions"].items():
                rows.append({**base, C.COL_MODEL: model, C.COL_LABEL: p["label"],
                             C.COL_CONFIDENCE: p["confidence"], **p["probs"]})
        return pd.DataFrame(rows, columns=list(C.PREDICTION_COLUMNS))


def prediction_record(probs: np.ndarray) -> dict:
    i = int(np.argmax(probs))
    return {"label": C.EMOTIONS[i], "confidence": round(float(probs[i]), 6),
            "probs": {e: round(float(p), 6) for e, p in zip(C.EMOTIONS, probs)}}


class Analyzer:
    def __init__(self, config: AnalyzerConfig | None = None):
        self.config = (config or AnalyzerConfig()).validated()
        self._detectors: dict[int, object] = {}
        self._card_settings: dict[str, tuple[bool, float]] = {}  # model -> (flip TTA, temperature)

    def __repr__(self) -> str:
        return f"Analyzer(models={self.config.models}, fps={self.config.fps}, min_face_px={self.config.min_face_px})"

    # ---------------------------------------------------------------- components
    def detector(self, *, video: bool = False):
        from .detection import FaceDetector

        views = self.config.max_views_video if video else self.config.max_views_photo
        if views not in self._detectors:
            self._detectors[views] = FaceDetector(min_score=self.config.det_min_score,
                                                  min_face_px=self.config.min_face_px,
                                                  max_views=views, max_faces=self.config.max_faces)
        return self._detectors[views]

    def model_info(self) -> dict[str, dict]:
        from .registry import spec

        return {m: {"version": spec(m, self.config.weights_dir).version} for m in self.config.models}

    def load_models(self) -> None:
        """Load every configured model now (raises WeightsError naming the file if one is missing)."""
        from .registry import load_model

        for m in self.config.models:
            load_model(m, self.config.weights_dir)

    def classify(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """Probabilities (N, 7) per model, plus 'ensemble' (their mean) when there are several models."""
        from .nets import preprocess
        from .registry import load_model, spec

        out: dict[str, np.ndarray] = {}
        if len(crops) == 0:
            return {m: np.zeros((0, C.NUM_CLASSES), np.float32) for m in self._output_names()}
        x = preprocess(crops)
        for m in self.config.models:
            model = load_model(m, self.config.weights_dir)
            if m not in self._card_settings:  # read each model card once, not on every batch
                card = spec(m, self.config.weights_dir).card()
                self._card_settings[m] = (bool(card.get("tta_flip")), float(card.get("temperature", 1.0)))
            tta_flip, temperature = self._card_settings[m]
            probs = _predict(model, x, self.config.batch_size)
            if tta_flip:
                probs = (probs + _predict(model, x[:, :, ::-1], self.config.batch_size)) / 2
            out[m] = apply_temperature(probs, temperature)
        if len(self.config.models) > 1:
            out[C.ENSEMBLE] = np.mean([out[m] for m in self.config.models], axis=0)
        return out

    def _output_names(self) -> list[str]:
        return list(self.config.models) + ([C.ENSEMBLE] if len(self.config.models) > 1 else [])

    # ---------------------------------------------------------------- analysis
    def analyze_file(self, path: str | Path, *, on_progress: ProgressFn | None = None,
                     thumbnails: bool = False) -> AnalysisResult:
        """Analyse a photo or a video; ``thumbnails`` also keeps a small JPEG of every face."""
        analyze = self.analyze_video if media_kind(path) == "video" else self.analyze_image
        return analyze(path, on_progress=on_progress, thumbnails=thumbnails)

    def analyze_image(self, path: str | Path, *, on_progress: ProgressFn | None = None,
                      thumbnails: bool = False) -> AnalysisResult:
        """Detect and classify every face of one photo (frame 0, t_s 0, no track)."""
        image = read_image(path, max_pixels=self.config.max_image_pixels)
        result = AnalysisResult(file=str(path), kind="photo", width=image.shape[1], height=image.shape[0])
        self._process(result, [Frame(0, 0.0, image)], tracker=None, thumbnails=thumbnails)
        if on_progress:
            on_progress(1.0, f"{Path(path).name}: {len(result.faces)} faces")
        return result

    def analyze_video(self, path: str | Path, *, on_progress: ProgressFn | None = None,
                      thumbnails: bool = False) -> AnalysisResult:
        """Sample the video at ``config.fps``, detect, track and classify every face."""
        info = video_info(path)
        result = AnalysisResult(file=str(path), kind="video", width=info.width, height=info.height,
                                fps=info.fps, duration_s=round(info.duration_s, 3))
        tracker = Tracker()
        chunk: list[Frame] = []
        for frame in sample_video(path, fps=self.config.fps, max_seconds=self.config.max_video_seconds):
            chunk.append(frame)
            if len(chunk) >= self.config.frames_per_batch:
                self._process(result, chunk, tracker=tracker, thumbnails=thumbnails)
                chunk = []
                if on_progress and info.duration_s > 0:
                    on_progress(min(frame.t_s / info.duration_s, 1.0),
                                f"{Path(path).name}: {frame.t_s:.0f} of {info.duration_s:.0f} s")
        self._process(result, chunk, tracker=tracker, thumbnails=thumbnails)
        if on_progress:
            on_progress(1.0, f"{Path(path).name}: {result.frames_analyzed} frames, {len(result.faces)} faces")
        return result

    def _process(self, result: AnalysisResult, frames: Iterable[Frame], *, tracker: Tracker | None,
                 thumbnails: bool = False) -> None:
        """Detect faces in ``frames``, classify all their crops in one batch per model, append records."""
        frames = list(frames)
        detector = self.detector(video=tracker is not None)
        found, crops = [], []
        for frame in frames:
            faces = detector.detect(frame.image)
            if len(faces) >= self.config.max_faces:
                where = f"frame {frame.index} ({frame.t_s:.1f} s)" if tracker else "the photo"
                result.warnings.append(f"{Path(result.file).name}: {where} has {self.config.max_faces} faces or "
                                       f"more; only the {self.config.max_faces} clearest were analysed "
                                       "(FER_MAX_FACES)")
            tracks = tracker.update([f.box for f in faces]) if tracker else [None] * len(faces)
            for face, track in zip(faces, tracks):
                found.append((frame, face, track))
                crops.append(face_crop(frame.image, face.box))
                if thumbnails:
                    result.thumbnails.append(face_jpeg(frame.image, face.box))
        result.frames_analyzed += len(frames)
        if not found:
            return
        probs = self.classify(np.stack(crops))
        for i, (frame, face, track) in enumerate(found):
            result.faces.append({
                "file": result.file, "frame": frame.index, "t_s": frame.t_s, "box": list(face.box),
                "det_score": round(face.score, 4), "track": track,
                "predictions": {m: prediction_record(p[i]) for m, p in probs.items()},
            })


def _predict(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """Batched inference. Each chunk is zero-padded to a power of two (at least 8) so the compiled
    graph sees a handful of shapes: a new shape costs a retrace of about a second per model."""
    out = []
    for i in range(0, len(x), batch_size):
        chunk = x[i:i + batch_size]
        n = len(chunk)
        padded = max(8, 1 << (n - 1).bit_length())
        if padded != n:
            chunk = np.concatenate([chunk, np.zeros((padded - n, *chunk.shape[1:]), chunk.dtype)])
        out.append(np.asarray(model.predict_on_batch(chunk), dtype=np.float32)[:n])
    return np.concatenate(out)


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Soften (T > 1) or sharpen (T < 1) softmax outputs: softmax(log p / T)."""
    if temperature == 1.0:
        return probs
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

"""Analysis settings in one typed object, with defaults a user can override from the environment."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from fer_core import settings
from fer_core.constants import MODEL_NAMES

ENGINES = ("auto", "openvino", "litert", "keras", "litert-int8")


@dataclass(frozen=True)
class AnalyzerConfig:
    models: tuple[str, ...] = MODEL_NAMES
    fps: float = 2.0  # video frames analysed per second of video
    min_face_px: int = 40  # smaller faces are ignored (box side, original pixels; FER-2013 faces are 48)
    det_min_score: float = 0.6  # detector confidence threshold (benchmarks/detectors.py: recall vs false alarms)
    max_views_photo: int = 120  # detector views per photo (more finds smaller faces in big photos)
    max_views_video: int = 8  # detector views per video frame (speed matters more here)
    max_faces: int = 100  # faces kept per photo or frame
    align: bool = False  # turn tilted faces' crops so the eyes are level (FER_ALIGN=1; README "Alignment")
    max_upload_bytes: int = 2 * 1024**3  # larger files are refused before any work
    max_image_pixels: int = 100_000_000  # guard against decompression bombs
    max_video_seconds: float = 4 * 3600.0
    batch_size: int = 64  # faces per model call
    frames_per_batch: int = 16  # video frames whose faces are classified together
    # "openvino" (the converted LiteRT file on OpenVINO's CPU runtime: same numbers, faster), "litert" (fast
    # start, no TensorFlow import), "keras", "auto" (openvino, else litert, whichever is installed), or "litert-int8"
    # (LiteRT with int8 weights: about 3x faster classification, results within a few tenths of a point, not
    # within 1e-3: opt-in, see README "Opt-in int8 engine")
    engine: str = "auto"
    threads: int = 2  # CPU threads per model and for the detector (FER_THREADS; workers pass --threads)
    parallel_models: bool = True  # run the models side by side in threads
    pipeline_video: bool = True  # decode and detect the next frames while classifying these
    video_tta: bool = False  # flip TTA on video frames too (photos follow the model card); see README "Speed"
    weights_dir: str | None = None  # None: the weights/ folder of this repository
    blur_faces: bool = False  # pixelate faces in every picture the dashboard shows (FER_BLUR_FACES=1)
    # facial states (head, gaze, looking, eyes, mouth, brows; README "Facial states"): FER_STATES=0 turns them off
    states: bool = True
    looking_cone_deg: float = 25.0  # "looking": gaze within this many degrees of ...
    looking_below_deg: float = 10.0  # ... the direction this far below the camera (a screen under it)
    camera_fov_deg: float = 60.0  # the camera's horizontal field of view (where the camera is, seen from a face)

    @classmethod
    def from_env(cls, **overrides) -> AnalyzerConfig:
        """Defaults, then FER_<FIELD> environment variables (e.g. FER_FPS=1), then ``overrides``."""
        values, env = {}, settings.current().analysis
        for f in fields(cls):
            raw = env.get(f.name)
            if raw is None:
                continue
            if f.name == "models":
                values[f.name] = tuple(m.strip() for m in raw.split(",") if m.strip())
            elif f.name in ("weights_dir", "engine"):
                values[f.name] = raw
            elif f.name in ("blur_faces", "parallel_models", "pipeline_video", "video_tta", "align", "states"):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[f.name] = type(getattr(cls, f.name))(raw)
        cfg = replace(cls(), **values)
        return replace(cfg, **overrides).validated()

    def validated(self) -> AnalyzerConfig:
        unknown = [m for m in self.models if m not in MODEL_NAMES]
        if unknown or not self.models:
            raise ValueError(f"models must be chosen from {MODEL_NAMES}; received {self.models}")
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}; received {self.engine!r}")
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1; received {self.threads}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive; received {self.fps}")
        if self.min_face_px < 1:
            raise ValueError(f"min_face_px must be at least 1; received {self.min_face_px}")
        return self

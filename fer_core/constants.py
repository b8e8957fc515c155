"""Names shared by every part of the product: labels, the models, statuses, result columns.

Import these instead of retyping strings, so the database, the charts and the
CLI can never disagree on an emotion's name or order.  The enums are ``StrEnum``:
their members are the very strings stored in the database and compare equal to them.
"""

from dataclasses import dataclass
from enum import Enum

try:
    from enum import StrEnum
except ImportError:  # Python 3.10

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


# FER-2013's label order: index i of every probability vector is EMOTIONS[i].
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(EMOTIONS)
# The satisfaction index: P(positive) - P(negative); neutral counts as 0.
POSITIVE, NEGATIVE = ("happy", "surprise"), ("angry", "disgust", "fear", "sad")
# What a reviewer can say a face shows: an emotion, or that it is no face or cannot be told.
NOT_A_FACE, UNCLEAR = "not_a_face", "unclear"
REVIEW_LABELS: tuple[str, ...] = (*EMOTIONS, NOT_A_FACE, UNCLEAR)

# Who a person seen is to the study: headlines count participants unless asked for everyone; excluded people
# (a face on a poster or a screen) count nowhere.
PARTICIPANT, OTHER, EXCLUDED = "participant", "other", "excluded"
ROLES: tuple[str, ...] = (PARTICIPANT, OTHER, EXCLUDED)
# One colour per emotion, on every page, picture and export.
EMOTION_COLORS = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#f2b701",
    "sad": "#1f77b4",
    "surprise": "#17becf",
    "neutral": "#7f7f7f",
}


@dataclass(frozen=True)
class ModelInfo:
    """What the product knows about one classifier of the study, before any weights are loaded."""

    name: str  # as stored in the database and named on the command line
    display: str  # as shown to users
    params: int  # the study's exact count: backbone + GlobalAveragePooling2D + Dropout(0.2) + Dense(7)
    learning_rate: float  # training's default Adam rate
    bf16_faster: bool  # mixed bfloat16 speeds its training up on a CPU with bfloat16 instructions


# The two classifiers of the study.  Plain VGG has no batch norm and needs a gentle start; ResNet50 at 1e-3
# stalled near chance for 3 epochs, at 3e-4 it learns.  bfloat16 helps VGG16's training, not ResNet50's
# (benchmarks/train_speed.py; figures in docs/training_log.md).
MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo("resnet50", "ResNet50", 23_602_055, learning_rate=3e-4, bf16_faster=False),
        ModelInfo("vgg16", "VGG16", 14_718_279, learning_rate=1e-4, bf16_faster=True),
    )
}
MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
# The mean of the models' probabilities, a third opinion stored beside theirs.
ENSEMBLE = "ensemble"
# Every opinion a face gets, ensemble first (the dashboard's default), with the names users see.
OPINIONS: tuple[str, ...] = (ENSEMBLE,) + MODEL_NAMES
DISPLAY_NAMES: dict[str, str] = {ENSEMBLE: "Ensemble (mean)", **{m.name: m.display for m in MODELS.values()}}

# FER-2013 faces are 48x48 grayscale; every crop is converted to exactly this.
FACE_SIZE = 48

# Columns of the per-face result table returned by Analyzer (one row per face).
COL_FILE = "file"
COL_FRAME = "frame"
COL_T_S = "t_s"
COL_X, COL_Y, COL_W, COL_H = "x", "y", "w", "h"
COL_DET_SCORE = "det_score"
COL_TRACK = "track"
COL_MODEL = "model"
COL_LABEL = "label"
COL_CONFIDENCE = "confidence"
FACE_COLUMNS: tuple[str, ...] = (
    COL_FILE,
    COL_FRAME,
    COL_T_S,
    COL_X,
    COL_Y,
    COL_W,
    COL_H,
    COL_DET_SCORE,
    COL_TRACK,
)
# Long format: one row per (face, model) with the 7 probabilities as columns.
PREDICTION_COLUMNS: tuple[str, ...] = FACE_COLUMNS + (COL_MODEL, COL_LABEL, COL_CONFIDENCE) + EMOTIONS

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class Keep(StrEnum):
    """What an upload keeps besides its results."""

    MEDIA = "media"  # the file itself (thumbnails and re-analysis work)
    FACES = "faces"  # a small picture of each face only
    NONE = "none"  # nothing but the results


KEEP_CHOICES: tuple[str, ...] = tuple(k.value for k in Keep)


class JobStatus(StrEnum):
    """Where one uploaded file's analysis job stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Outcome(StrEnum):
    """What became of one file: analysed, skipped (the same bytes are already in the session), or failed.
    A media row's status is DONE or FAILED."""

    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


class MediaKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"

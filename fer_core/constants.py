"""Names shared by every part of the product: labels, model names, result columns.

Import these instead of retyping strings, so the database, the charts and the
CLI can never disagree on an emotion's name or order.
"""

# FER-2013's label order: index i of every probability vector is EMOTIONS[i].
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_CLASSES = len(EMOTIONS)

# The two classifiers of the study, and the mean of the two as a third opinion.
MODEL_NAMES: tuple[str, ...] = ("resnet50", "vgg16")
ENSEMBLE = "ensemble"

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

# What an upload keeps besides its results: the file itself, a small picture of each face, or nothing.
KEEP_CHOICES: tuple[str, ...] = ("media", "faces", "none")

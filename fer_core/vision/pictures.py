"""Pictures of faces: thumbnails for the dashboard and reports, and pixelated faces for privacy."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from fer_core.constants import EMOTION_COLORS, MediaKind
from fer_core.vision.media import read_image, read_video_frame


def blur_faces(image: np.ndarray, boxes, *, strength: float = 0.25) -> np.ndarray:
    """A copy of ``image`` with each (x, y, w, h) box pixelated beyond recognition (for privacy)."""
    out = image.copy()
    h_img, w_img = out.shape[:2]
    for x, y, w, h in boxes:
        x0, y0, x1, y1 = max(0, int(x)), max(0, int(y)), min(w_img, int(x + w)), min(h_img, int(y + h))
        if x1 <= x0 or y1 <= y0:
            continue
        patch = out[y0:y1, x0:x1]
        cells = max(2, int(8 * strength * 4))  # a few blocks across the face
        small = cv2.resize(patch, (cells, cells), interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    return out


def face_jpeg(image: np.ndarray, box: tuple[int, int, int, int], size: int = 128) -> bytes:
    """A small JPEG of one face (what is kept when a session stores faces instead of whole media)."""
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(_square_around(image, box, size), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )
    return data.tobytes()


def face_thumbnail(
    path: str | Path, *, kind: str, t_s: float, box: tuple[int, int, int, int], size: int = 128, blur: bool = False
) -> np.ndarray:
    """An RGB square thumbnail of one detected face (a little context around the box), pixelated if ``blur``.

    ``kind`` "face" means ``path`` is already such a thumbnail (sessions that keep faces only)."""
    if kind == "face":
        image = read_image(path)
        return cv2.cvtColor(blur_faces(image, [(0, 0, *image.shape[1::-1])]) if blur else image, cv2.COLOR_BGR2RGB)
    image = read_video_frame(path, t_s) if kind == MediaKind.VIDEO else read_image(path)
    if blur:
        image = blur_faces(image, [box])
    return _square_around(image, box, size)


def _square_around(image: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    x, y, w, h = box
    side = int(max(w, h) * 1.4)
    cx, cy = x + w // 2, y + h // 2
    x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
    patch = image[y0 : y0 + side, x0 : x0 + side]
    patch = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(patch, cv2.COLOR_BGR2RGB)


def _bgr(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (5, 3, 1))


def labelled_photo(path: str | Path, faces, *, blur: bool = False) -> np.ndarray:
    """An RGB copy of a photo with a box around each face and its label on a filled tag above it, both in
    the emotion's colour (``constants.EMOTION_COLORS``), so labels stay readable on any background.

    ``faces`` are (x, y, w, h, text, emotion) tuples; ``text`` is what the tag says (e.g. "happy 82%")."""
    image = read_image(path)
    if blur:
        image = blur_faces(image, [f[:4] for f in faces])
    return cv2.cvtColor(draw_labels(image, faces), cv2.COLOR_BGR2RGB)


def draw_labels(image: np.ndarray, faces) -> np.ndarray:
    """Draw ``labelled_photo``'s boxes and tags on a BGR image, in place (a live frame, a photo); returns it."""
    thick = max(2, image.shape[1] // 400)
    scale = max(0.6, image.shape[1] / 1100)  # a tag stays readable when the photo is shown small
    for x, y, w, h, text, emotion in faces:
        colour = _bgr(EMOTION_COLORS.get(emotion, "#7f7f7f"))
        cv2.rectangle(image, (x, y), (x + w, y + h), colour, thick)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, thick // 2))
        top = y - th - base - 2 * thick if y - th - base - 2 * thick >= 0 else y + h  # below the box at the top edge
        left = max(0, min(x, image.shape[1] - tw - 2 * thick))  # the whole tag inside the picture
        cv2.rectangle(image, (left, top), (left + tw + 2 * thick, top + th + base + 2 * thick), colour, cv2.FILLED)
        ink = (0, 0, 0) if sum(colour) > 420 else (255, 255, 255)  # dark text on the light colours
        cv2.putText(
            image,
            text,
            (left + thick, top + th + thick),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            ink,
            max(1, thick // 2),
            cv2.LINE_AA,
        )
    return image


def classifier_crop(path: str | Path, *, kind: str, t_s: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """The 48x48 grayscale crop of one face as the models saw it (FER-2013's framing), from a kept photo or
    video; from a kept face picture (kind "face"), that picture made 48x48 gray."""
    from fer_core.vision.crop import face_crop

    if kind == "face":
        image = read_image(path)
        return cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
    image = read_video_frame(path, t_s) if kind == MediaKind.VIDEO else read_image(path)
    return face_crop(image, box)

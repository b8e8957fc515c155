"""Reading photos and videos into BGR uint8 frames, with clear errors and limits.

Photos are decoded with Pillow (EXIF orientation, 16-bit, CMYK, alpha and
palette images handled); videos with OpenCV, sampled at a fixed rate, and only
the sampled frames are decoded (``grab`` every frame, ``retrieve`` the ones
we keep).
"""
from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .constants import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS


class MediaError(Exception):
    """A file cannot be analysed; the message says why, in words for the user."""


@dataclass(frozen=True)
class Frame:
    index: int  # frame number in the video (0 for a photo)
    t_s: float  # timestamp in seconds from the start of the video (0 for a photo)
    image: np.ndarray  # BGR uint8 (H, W, 3)


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float


def media_kind(path: str | Path) -> str:
    """'photo' or 'video', by extension; unknown extensions are sniffed by content."""
    ext = Path(path).suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "photo"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            return "photo"
    except (UnidentifiedImageError, OSError):
        return "video"


# --------------------------------------------------------------------------- photos
def read_image(path: str | Path, *, max_pixels: int = 100_000_000) -> np.ndarray:
    """Decode a photo to BGR uint8, upright according to its EXIF orientation.

    Raises MediaError for unreadable files, animations and images over ``max_pixels``
    (checked from the header, before decoding: a guard against decompression bombs).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path.name}: file not found")
    if path.stat().st_size == 0:
        raise MediaError(f"{path.name}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = None  # our own limit below replaces Pillow's
            with Image.open(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise MediaError(f"{path.name}: the image is {w}x{h} = {w * h / 1e6:.0f} megapixels, over the "
                                     f"limit of {max_pixels / 1e6:.0f} megapixels")
                if getattr(im, "n_frames", 1) > 1 and im.format in ("GIF", "PNG", "WEBP"):
                    raise MediaError(f"{path.name}: animated images are not supported; upload the video instead")
                im.load()
                im = ImageOps.exif_transpose(im)
                return _to_bgr(im)
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError(f"{path.name}: not an image format we can read (JPEG, PNG, WebP, BMP or TIFF)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise MediaError(f"{path.name}: the image is damaged or truncated ({exc})") from None


def _to_bgr(im) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if a.max() > 255 else 255.0
        gray = np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        span = max(a.max() - a.min(), 1e-9)
        return cv2.cvtColor(((a - a.min()) / span * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        from PIL import Image

        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    rgb = np.asarray(im.convert("RGB"))  # also CMYK, YCbCr, palette, 1-bit, grayscale
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


# --------------------------------------------------------------------------- videos
def open_video(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path.name}: file not found")
    if path.stat().st_size == 0:
        raise MediaError(f"{path.name}: the file is empty")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MediaError(f"{path.name}: not a video we can decode (or not a video at all)")
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    if w <= 0 or h <= 0:
        cap.release()
        raise MediaError(f"{path.name}: the file has no video stream")
    if not 0 < fps < 1000:
        fps = 25.0  # unknown rate: timestamps then come from the container when it has them
    return cap, VideoInfo(w, h, fps, max(count, 0), max(count, 0) / fps)


def video_info(path: str | Path) -> VideoInfo:
    cap, info = open_video(path)
    cap.release()
    return info


def sample_video(path: str | Path, *, fps: float = 2.0, max_seconds: float = 4 * 3600) -> Iterator[Frame]:
    """Yield frames sampled every 1/``fps`` seconds of video time.

    A frame's timestamp is its index divided by the container's frame rate; the
    first frame at or after each sampling time is kept.  Reading stops at the first
    frame that cannot be decoded; if none at all can be, MediaError is raised.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive; received {fps}")
    path = Path(path)
    cap, info = open_video(path)
    try:
        if info.duration_s > max_seconds:
            raise MediaError(f"{path.name}: the video lasts {info.duration_s / 60:.1f} min, over the limit of "
                             f"{max_seconds / 60:.0f} min")
        step = 1.0 / fps
        next_t, index, yielded = 0.0, -1, 0
        while True:
            if not cap.grab():
                break
            index += 1
            t = index / info.fps
            if t > max_seconds:
                raise MediaError(f"{path.name}: the video runs past the limit of {max_seconds / 60:.0f} min")
            if t + 1e-6 < next_t:
                continue
            ok, image = cap.retrieve()
            if not ok or image is None:
                continue
            yield Frame(index, round(t, 4), image)
            yielded += 1
            next_t += step * max(1, int((t - next_t) // step) + 1)  # skip targets already passed
        if yielded == 0:
            raise MediaError(f"{path.name}: no video frame could be decoded (the file may be truncated or damaged)")
    finally:
        cap.release()


def read_video_frame(path: str | Path, index: int) -> np.ndarray:
    """One frame of a video, by index (for thumbnails of stored results)."""
    cap, info = open_video(path)
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = cap.read()
        if not ok or image is None:
            raise MediaError(f"{Path(path).name}: frame {index} cannot be decoded")
        return image
    finally:
        cap.release()


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
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(_square_around(image, box, size), cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 85])
    return data.tobytes()


def face_thumbnail(path: str | Path, *, kind: str, frame: int, box: tuple[int, int, int, int],
                   size: int = 128, blur: bool = False) -> np.ndarray:
    """An RGB square thumbnail of one detected face (a little context around the box), pixelated if ``blur``.

    ``kind`` "face" means ``path`` is already such a thumbnail (sessions that keep faces only)."""
    if kind == "face":
        image = read_image(path)
        return cv2.cvtColor(blur_faces(image, [(0, 0, *image.shape[1::-1])]) if blur else image, cv2.COLOR_BGR2RGB)
    image = read_video_frame(path, frame) if kind == "video" else read_image(path)
    if blur:
        image = blur_faces(image, [box])
    return _square_around(image, box, size)


def _square_around(image: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    x, y, w, h = box
    side = int(max(w, h) * 1.4)
    cx, cy = x + w // 2, y + h // 2
    x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
    patch = image[y0:y0 + side, x0:x0 + side]
    patch = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(patch, cv2.COLOR_BGR2RGB)

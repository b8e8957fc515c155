"""Reading photos and videos into BGR uint8 frames, with clear errors and limits.

Photos are decoded with Pillow (EXIF orientation, 16-bit, CMYK, alpha and
palette images handled; HEIC/HEIF through pillow-heif, AVIF by Pillow itself).
Videos are decoded with OpenCV (which turns rotated phone videos upright),
sampled by time: each frame's time is its presentation time from the
container, so variable-frame-rate phone videos get true times.  Only the
sampled frames are converted (``grab`` every frame, ``retrieve`` the ones we
keep).  The stream's duration comes from the container through PyAV, and a
stored frame is read again by seeking to its time.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer_core.constants import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, MediaKind


class MediaError(Exception):
    """A file cannot be analysed; the message says why, in words for the user."""


@dataclass(frozen=True)
class Frame:
    index: int  # decoded frame number in the video (0 for a photo)
    t_s: float  # presentation time in seconds from the start of the stream (0 for a photo)
    image: np.ndarray  # BGR uint8 (H, W, 3)


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float  # the average frame rate (phones record at a variable one)
    frame_count: int
    duration_s: float  # the stream's, from the container; 0.0 when the container's is unknown or impossible


def _register_heif() -> None:
    try:
        import pillow_heif
    except ImportError:  # photos still work; HEIC files then get the "not an image format" message
        return
    pillow_heif.register_heif_opener()


def media_kind(path: str | Path) -> str:
    """'photo' or 'video', by extension; unknown extensions are sniffed by content."""
    ext = Path(path).suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return MediaKind.PHOTO
    if ext in VIDEO_EXTENSIONS:
        return MediaKind.VIDEO
    from PIL import Image, UnidentifiedImageError

    _register_heif()
    try:
        with Image.open(path):
            return MediaKind.PHOTO
    except (UnidentifiedImageError, OSError):
        return MediaKind.VIDEO


# --------------------------------------------------------------------------- photos
def read_image(path: str | Path, *, max_pixels: int = 100_000_000, notes: list[str] | None = None) -> np.ndarray:
    """Decode a photo to BGR uint8, upright according to its EXIF orientation.

    Raises MediaError for unreadable files, animations and images over ``max_pixels``
    (checked from the header, before decoding: a guard against decompression bombs).
    What the user should know about the file (a multi-page TIFF: only its first page) goes to ``notes``.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    _register_heif()
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
                    raise MediaError(
                        f"{path.name}: the image is {w}x{h} = {w * h / 1e6:.0f} megapixels, over the "
                        f"limit of {max_pixels / 1e6:.0f} megapixels"
                    )
                pages = getattr(im, "n_frames", 1)
                if pages > 1 and im.format in ("GIF", "PNG", "WEBP"):
                    raise MediaError(f"{path.name}: animated images are not supported; upload the video instead")
                if pages > 1 and notes is not None:
                    notes.append(f"{path.name}: the file holds {pages} images; only the first was analysed")
                im.load()
                im = ImageOps.exif_transpose(im)
                return _to_bgr(im)
    except MediaError:
        raise
    except UnidentifiedImageError:
        raise MediaError(
            f"{path.name}: not an image format we can read (JPEG, PNG, WebP, HEIC/HEIF, AVIF, BMP or TIFF)"
        ) from None
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
    if w <= 0 or h <= 0:
        cap.release()
        raise MediaError(f"{path.name}: the file has no video stream")
    fps, count, duration = _probe(path)
    if not fps:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not 0 < fps < 1000:
        fps = 25.0  # unknown rate: only the progress estimate uses it; times come from the container
    count = count or max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
    if duration is None:
        duration = count / fps
    # A header can declare anything (an AVI's frame count of 2**31 for a 10 s clip): no codec stores a frame in
    # under MIN_FRAME_BYTES, so a count or duration the file is too small to hold is unknown, not believed. The
    # time limit then holds while reading, by the frames' own times.
    most = path.stat().st_size / MIN_FRAME_BYTES
    if count > most:
        count = 0
    if duration * fps > most:
        duration = 0.0
    return cap, VideoInfo(w, h, fps, count, duration)


MIN_FRAME_BYTES = 2


def _probe(path: Path) -> tuple[float | None, int, float | None]:
    """(average frame rate, frame count, duration in s) of the first video stream, from the container.

    The duration is the stream's own where the container records it; a declared frame count is not
    trusted for it (nonsense counts exist, and at a variable rate count / rate is wrong anyway)."""
    try:
        import av
    except ImportError:
        return None, 0, None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None, 0, None
            stream = container.streams.video[0]
            rate = float(stream.average_rate) if stream.average_rate else None
            duration = None
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / 1_000_000
            return rate, int(stream.frames or 0), duration
    except (av.FFmpegError, ValueError, OverflowError):
        return None, 0, None


def video_info(path: str | Path) -> VideoInfo:
    cap, info = open_video(path)
    cap.release()
    return info


def sample_video(path: str | Path, *, fps: float = 2.0, max_seconds: float = 4 * 3600) -> Iterator[Frame]:
    """Yield frames sampled every 1/``fps`` seconds of video time.

    A frame's time is its presentation time from the container (seconds from the stream's start); the first
    frame at or after each sampling time is kept, so the sampling follows time whatever the frame rate does.
    A container without usable times falls back to index / average rate.  Reading stops at the first
    frame that cannot be decoded; if none at all can be, MediaError is raised.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive; received {fps}")
    path = Path(path)
    cap, info = open_video(path)
    try:
        if info.duration_s > max_seconds:
            raise MediaError(
                f"{path.name}: the video lasts {info.duration_s / 60:.1f} min, over the limit of "
                f"{max_seconds / 60:.0f} min"
            )
        step = 1.0 / fps
        next_t, index, yielded, last_t = 0.0, -1, 0, -1.0
        use_pts = True
        while True:
            if not cap.grab():
                break
            index += 1
            t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 if use_pts else index / info.fps
            if use_pts and index > 0 and t <= last_t:  # no presentation times in this container
                use_pts = False
                t = index / info.fps
            last_t = t
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


def read_video_frame(path: str | Path, t_s: float) -> np.ndarray:
    """The frame shown at ``t_s`` seconds (for thumbnails of stored results), upright.

    Seeks by time (PyAV: to the keyframe before, then decodes forward), since at a variable frame rate a
    frame's index says nothing about where it is in the file."""
    import av

    name = Path(path).name
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            start = stream.start_time or 0
            offset = float(start * stream.time_base)  # times are counted from the stream's start
            container.seek(start + int(max(t_s - 0.5, 0) / stream.time_base), stream=stream, backward=True)
            best = None
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                if frame.time - offset > t_s + 1e-3 and best is not None:
                    break
                best = frame
            if best is None:
                raise MediaError(f"{name}: no frame can be decoded at {t_s:.2f} s")
            return _upright(best.to_ndarray(format="bgr24"), best.rotation)
    except av.FFmpegError as exc:
        raise MediaError(f"{name}: the frame at {t_s:.2f} s cannot be decoded ({exc})") from None


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn a decoded frame as its display matrix says (counter-clockwise degrees), as OpenCV does on reading."""
    turns = {
        90: cv2.ROTATE_90_COUNTERCLOCKWISE,
        -270: cv2.ROTATE_90_COUNTERCLOCKWISE,
        180: cv2.ROTATE_180,
        -180: cv2.ROTATE_180,
        -90: cv2.ROTATE_90_CLOCKWISE,
        270: cv2.ROTATE_90_CLOCKWISE,
    }
    return cv2.rotate(image, turns[rotation]) if rotation in turns else image

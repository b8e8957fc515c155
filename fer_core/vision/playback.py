"""Videos made playable in a browser: browsers play H.264, VP8/VP9 and AV1 in MP4 or WebM, not the MPEG-4
Part 2, MJPEG or other codecs many cameras and tools write. Such a video gets an H.264 copy (with AAC sound)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av

from fer_core.vision.media import MediaError

BROWSER_CODECS = {"h264", "vp8", "vp9", "av1"}
BROWSER_CONTAINERS = {".mp4", ".m4v", ".webm"}


def plays_in_browser(path: str | Path) -> bool:
    """True when browsers can play the file as it is (its container and its video codec)."""
    if Path(path).suffix.lower() not in BROWSER_CONTAINERS:
        return False
    try:
        with av.open(str(path)) as container:
            video = container.streams.video
            return bool(video) and video[0].codec_context.name in BROWSER_CODECS
    except av.FFmpegError:
        return False


def playable_copy(path: str | Path, out: str | Path) -> Path:
    """``out``: an H.264/AAC MP4 copy of the video at ``path`` (written beside, then renamed into place, so a
    half-written copy is never served). MediaError when the video cannot be read."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f"{out.name}.{os.getpid()}.part")
    try:
        with (
            av.open(str(path)) as src,
            av.open(str(part), "w", format="mp4", options={"movflags": "+faststart"}) as dst,
        ):
            vin = src.streams.video[0]
            rate = vin.average_rate or Fraction(25)
            vout = dst.add_stream("libx264", rate=rate, options={"crf": "23", "preset": "veryfast"})
            vout.width, vout.height = vin.codec_context.width // 2 * 2, vin.codec_context.height // 2 * 2
            vout.pix_fmt = "yuv420p"
            ain = src.streams.audio[0] if src.streams.audio else None
            aout = dst.add_stream("aac", rate=ain.codec_context.sample_rate or 44100) if ain else None
            streams = [s for s in (vin, ain) if s is not None]
            tick, last = 1 / Fraction(rate), -1  # one tick per frame at the stream's rate
            for packet in src.demux(*streams):
                for frame in packet.decode():
                    if packet.stream is vin:
                        frame = frame.reformat(width=vout.width, height=vout.height, format="yuv420p")
                        t = frame.time if frame.time is not None else float((last + 1) * tick)
                        last = frame.pts = max(last + 1, round(t / float(tick)))  # the source's timing, kept increasing
                        frame.time_base = tick
                        dst.mux(vout.encode(frame))
                    else:
                        frame.pts = None
                        dst.mux(aout.encode(frame))
            dst.mux(vout.encode())
            if aout is not None:
                dst.mux(aout.encode())
        part.replace(out)
    except (av.FFmpegError, IndexError, ValueError) as exc:
        part.unlink(missing_ok=True)
        raise MediaError(f"{Path(path).name}: could not be made playable ({exc})") from exc
    return out

"""Live sessions: a camera's frames analysed as they arrive, each labelled frame sent back, the readings kept.

The camera sends 15-30 frames a second; one analysis (faces, both models) takes several times a frame's
interval on a small machine. So the server's frame callback never analyses: it puts the frame in a slot of
one (a frame still waiting there is dropped, never queued) and returns the newest labelled frame. One thread
analyses whatever is in the slot, at most ``fps`` times a second. A frame's delay from its arrival to its
labelled copy going back is then bounded by about two analyses, however slow the machine.

Readings are kept in memory with times from the run's start and tracked into people as a video's are; the
service stores them as one live recording of a session when the run stops (``service.save_live``). With a
``journal`` folder each analysed frame's readings and each marker are also appended to a file there, so that a
dashboard that dies mid-run loses nothing: the next one stores the run from it (``service.recover_live``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fer_core.analyzer import AnalysisResult, Analyzer, Heads
from fer_core.constants import EMOTIONS, ENSEMBLE, MODELS, Keep, MediaKind
from fer_core.statistics.study import satisfaction
from fer_core.vision.media import Frame
from fer_core.vision.pictures import draw_labels
from fer_core.vision.tracking import Tracker

log = logging.getLogger(__name__)

MIN_WIDTH = 640  # frames narrower than this (a browser saving bandwidth) are analysed at this width
LIVE_PREFIX = "live-"  # a live recording's identity (media_file.sha256): it has no file bytes to hash


def is_live(sha256: str | None) -> bool:
    return bool(sha256 and sha256.startswith(LIVE_PREFIX))


@dataclass
class _Labelled:
    frame: object  # the analysed frame with its boxes and labels, as ``wrap`` made it
    arrived: float  # when the frame reached the callback (the clock's seconds)
    sent: bool = False  # returned at least once (its delay is counted then)


@dataclass
class LiveStats:
    seconds: float  # from the first frame to the last
    frames_in: int  # frames the camera sent
    analysed: int  # frames analysed
    readings: int  # faces read (one per face per analysed frame)
    people: int  # face tracks so far
    analysis_ms: float = 0.0  # mean time one analysis took (faces found, both models, labels drawn)
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p95, max: arrival -> labelled frame back

    @property
    def fps(self) -> float:
        return self.analysed / self.seconds if self.seconds > 0 else 0.0


@dataclass
class LiveDestination:
    """Where a live run's readings go when it stops: a session (made then if new) and what is kept besides
    the readings, as for uploads: "media" (the analysed frames as an H.264 video), "faces" (a small picture of
    each face) or "none"."""

    session_name: str
    participant: str | None = None
    tags: list[str] | tuple[str, ...] = ()
    notes: str | None = None
    consent: bool = False
    keep: str = Keep.NONE


class LiveRecording:
    """One live run: ``offer`` each camera frame (BGR), get a labelled frame back; ``mark`` moments; ``stop``.

    ``card``: the population version (``fer_core.adapt``) applied when stored, ``heads`` its fine-tuned heads
    applied now. ``saved``: the stored outcome (and ``session_id`` its session) once ``service.save_live`` stored
    it, under ``saving``.
    """

    def __init__(
        self,
        analyzer: Analyzer,
        destination: LiveDestination,
        *,
        fps: float = 8.0,
        card: dict | None = None,
        heads: Heads | None = None,
        name: str | None = None,
        journal: Path | None = None,
        to_image: Callable[[object], np.ndarray] = np.asarray,
        wrap: Callable[[np.ndarray], object] = lambda image: image,
        clock: Callable[[], float] = time.monotonic,
    ):
        if fps <= 0:
            raise ValueError(f"the live analysis rate must be above 0 frames a second; received {fps}")
        self.analyzer, self.destination, self.max_fps, self.card, self.heads = analyzer, destination, fps, card, heads
        self.keep, self.clock = Keep(destination.keep), clock
        self.to_image, self.wrap = to_image, wrap  # a camera's frame to BGR pixels, and labelled pixels back
        self.saving, self.saved = threading.Lock(), None
        self.session_id: int | None = None  # where it was stored
        self.identity = LIVE_PREFIX + uuid.uuid4().hex
        self.started_at = datetime.now()  # set again at the first frame
        self._name = name
        self.name = name or f"Live {self.started_at:%Y-%m-%d %H:%M:%S}"
        self.faces: list[dict] = []  # the analyzer's records, t_s from the run's start
        self.thumbnails: list[bytes] = []  # with keep="faces", one per record
        self.markers: list[tuple[float, str]] = []  # (t_s, label)
        self.warnings: list[str] = []
        self.error: str | None = None  # the last analysis error, in words
        self.width = self.height = 0
        self.frames_in = self.analysed = 0
        self._first: float | None = None
        self._last: float | None = None
        self._tracker = Tracker()
        self._delays: deque[float] = deque(maxlen=10_000)
        self._busy_s = 0.0  # time spent analysing
        self._lock = threading.Condition()
        self._slot: tuple[object, float, int] | None = None  # (frame, its arrival, its index)
        self._out: _Labelled | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._video = None  # (container, stream, folder) with keep="media"
        self._journal_dir, self._journal = journal, None  # the folder, and the open file once the run started

    # ------------------------------------------------------------------ the callback's side
    def offer(self, frame):
        """Hand one camera frame over (it replaces a frame still waiting) and get the newest labelled frame
        back: the frame itself until the first analysis is done, and after ``stop``. Frames are whatever
        ``to_image`` turns into a BGR array; they are converted only when analysed."""
        now = self.clock()
        with self._lock:
            if self._stopped:
                return frame
            if self._first is None:
                self._first, self.started_at = now, datetime.now()
                self.name = self._name or f"Live {self.started_at:%Y-%m-%d %H:%M:%S}"
                self._open_journal()
                self._thread = threading.Thread(target=self._analyse_loop, name="fer-live", daemon=True)
                self._thread.start()
            self._last = now
            self._slot = (frame, now, self.frames_in)
            self.frames_in += 1
            self._lock.notify()
            out = self._out
        if out is None:
            return frame
        if not out.sent:
            out.sent = True
            self._delays.append(self.clock() - out.arrived)
        return out.frame

    def now_s(self) -> float:
        """Seconds since the run's first frame (0 before it)."""
        return self.clock() - self._first if self._first is not None else 0.0

    def mark(self, label: str = "moment") -> float:
        """A marker at the current time of the run; returns that time."""
        t = round(self.now_s(), 3)
        with self._lock:
            self.markers.append((t, label))
            self._write({"marker": [t, label]})
        return t

    @property
    def running(self) -> bool:
        return self._first is not None and not self._stopped

    def stop(self) -> None:
        """End the run: no more frames are taken; waits for the frame being analysed."""
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._close_video()

    # ------------------------------------------------------------------ the analysis thread
    def _analyse_loop(self) -> None:
        next_at = 0.0
        while True:
            with self._lock:
                while self._slot is None and not self._stopped:
                    self._lock.wait(0.5)
                if self._stopped:
                    return
            pause = next_at - self.clock()
            if pause > 0:  # at most max_fps analyses a second: the newest frame after the pause is taken
                time.sleep(pause)
            with self._lock:
                if self._stopped:
                    return
                image, arrived, index = self._slot
                self._slot = None
            began = self.clock()
            next_at = began + 1.0 / self.max_fps
            try:
                self._analyse(image, arrived, index)
                self._busy_s += self.clock() - began
            except Exception as exc:  # a bad frame must not end the run; the page shows the message
                log.exception("live analysis failed on frame %d", index)
                self.error = f"a frame could not be analysed ({type(exc).__name__}: {exc})"

    def _analyse(self, frame, arrived: float, index: int) -> None:
        image = self.to_image(frame)
        if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 16:
            raise ValueError(f"not a colour picture (an array of shape {image.shape})")
        if not self.width:  # the run's frame size: the first frame's shape, at least MIN_WIDTH wide
            h, w = image.shape[:2]
            self.width, self.height = max(w, MIN_WIDTH), round(h * max(w, MIN_WIDTH) / w)
        if image.shape[:2] != (self.height, self.width):
            # A browser lowers the resolution when its machine or the network is busy (often at the start):
            # every frame at the run's size, so that boxes, tracks and the kept video share one frame.
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        t_s = round(arrived - self._first, 3)
        scratch = AnalysisResult(file=self.name, kind=MediaKind.VIDEO, width=self.width, height=self.height)
        records = self.analyzer.analyze_frame(
            scratch,
            Frame(index, t_s, image),
            tracker=self._tracker,
            thumbnails=self.keep == Keep.FACES,
            heads=self.heads,
        )
        labelled = self.wrap(draw_labels(image.copy(), frame_labels(records)))
        if self.keep == Keep.MEDIA:
            self._write_video(image, t_s)
        with self._lock:
            self.faces.extend(records)
            self.thumbnails.extend(scratch.thumbnails)
            self.warnings.extend(w for w in scratch.warnings if w not in self.warnings)
            self.analysed += 1
            self._out = _Labelled(labelled, arrived)
            self._write({"t_s": t_s, "size": [self.width, self.height], "faces": records})

    # ------------------------------------------------------------------ what the page and the service read
    def _seconds(self) -> float:
        """From the first frame's arrival to the last one's (call under the lock)."""
        return (self._last - self._first) if self._first is not None else 0.0

    def stats(self) -> LiveStats:
        with self._lock:
            seconds = self._seconds()
            delays = np.array(self._delays, float) * 1000
            people = len({f["track"] for f in self.faces})
            out = LiveStats(seconds, self.frames_in, self.analysed, len(self.faces), people)
            out.analysis_ms = round(1000 * self._busy_s / max(self.analysed, 1), 1)
        if len(delays):
            out.latency_ms = {
                "p50": round(float(np.percentile(delays, 50)), 1),
                "p95": round(float(np.percentile(delays, 95)), 1),
                "max": round(float(delays.max()), 1),
            }
        return out

    def window(self, seconds: float = 60.0) -> pd.DataFrame:
        """The last ``seconds`` of readings: one row per face per model (t_s, track, model, label,
        each emotion's probability, satisfaction)."""
        since = self.now_s() - seconds
        with self._lock:
            recent = [f for f in self.faces[-4000:] if f["t_s"] >= since]
        rows = [
            {"t_s": f["t_s"], "track": f["track"], "model": m, "label": p["label"], **p["probs"]}
            for f in recent
            for m, p in f["predictions"].items()
        ]
        frame = pd.DataFrame(rows, columns=["t_s", "track", "model", "label", *EMOTIONS])
        return frame.assign(satisfaction=satisfaction(frame))

    def attention(self, seconds: float = 5.0) -> dict:
        """The last ``seconds``: the share of face readings looking at the camera and the newest face's head
        direction in words (``head_words``); None where no face had states."""
        since = self.now_s() - seconds
        with self._lock:
            recent = [f for f in self.faces[-400:] if f["t_s"] >= since and f.get("looking") is not None]
        if not recent:
            return {"looking": None, "head": None}
        return {
            "looking": sum(bool(f["looking"]) for f in recent) / len(recent),
            "head": head_words(recent[-1].get("head")),
        }

    def result(self) -> AnalysisResult:
        """Everything read so far as the analyzer's result for a video (what the pipeline stores)."""
        with self._lock:
            stats_seconds = self._seconds()
            return AnalysisResult(
                file=self.name,
                kind=MediaKind.VIDEO,
                width=self.width,
                height=self.height,
                fps=round(self.analysed / stats_seconds, 3) if stats_seconds > 0 else None,
                duration_s=round(stats_seconds, 3),
                frames_analyzed=self.analysed,
                face_count=len(self.faces),
                faces=list(self.faces),
                thumbnails=list(self.thumbnails),
                warnings=list(self.warnings),
            )

    @property
    def video_file(self) -> Path | None:
        """The analysed frames as an H.264 MP4 (keep="media"), complete once the run is stopped."""
        return Path(self._video[2].name) / "live.mp4" if self._video else None

    def discard(self) -> None:
        """Remove the temporary video and the journal (after the run was stored, or when it is thrown away)."""
        self.stop()
        if self._video:
            self._video[2].cleanup()
            self._video = None
        if self._journal is not None:
            self._journal.close()
            Path(self._journal.name).unlink(missing_ok=True)
            self._journal = None

    # ------------------------------------------------------------------ the journal
    def _open_journal(self) -> None:
        if self._journal_dir is None:
            return
        Path(self._journal_dir).mkdir(parents=True, exist_ok=True)
        self._journal = open(Path(self._journal_dir) / f"{self.identity}.jsonl", "a", encoding="utf-8")
        head = {
            "identity": self.identity,
            "pid": os.getpid(),
            "name": self.name,
            "started_at": self.started_at.isoformat(),
            "max_fps": self.max_fps,
            "destination": asdict(self.destination),
        }
        self._write(head)

    def _write(self, line: dict) -> None:
        """One line of the journal (under the lock); flushed, so a killed process leaves every line written."""
        if self._journal is not None:
            self._journal.write(json.dumps(line) + "\n")
            self._journal.flush()

    # ------------------------------------------------------------------ the kept video
    def _write_video(self, image: np.ndarray, t_s: float) -> None:
        import fractions

        import av

        from fer_core.cleanup import upload_folder

        if self._video is None:
            folder = upload_folder()
            container = av.open(str(Path(folder.name) / "live.mp4"), "w")
            stream = container.add_stream("libx264", rate=int(round(self.max_fps)))
            stream.width, stream.height, stream.pix_fmt = (
                self.width - self.width % 2,
                self.height - self.height % 2,
                "yuv420p",
            )
            stream.codec_context.time_base = fractions.Fraction(1, 1000)
            stream.options = {"preset": "veryfast", "crf": "26"}
            self._video = (container, stream, folder)
            self._video_pts = -1
        container, stream, _ = self._video
        pts = max(int(round(t_s * 1000)), self._video_pts + 1)  # times only go forward
        self._video_pts = pts
        frame = av.VideoFrame.from_ndarray(image[: stream.height, : stream.width], format="bgr24")
        frame.pts, frame.time_base = pts, stream.codec_context.time_base
        container.mux(stream.encode(frame))

    def _close_video(self) -> None:
        if self._video and self._video[0] is not None:
            container, stream, folder = self._video
            container.mux(stream.encode())
            container.close()
            self._video = (None, stream, folder)


@dataclass
class Journal:
    """What a live run's journal holds: enough to store the run as ``service.save_live`` would have."""

    path: Path
    identity: str
    pid: int
    name: str
    started_at: datetime
    max_fps: float
    destination: LiveDestination
    result: AnalysisResult
    markers: list[tuple[float, str]]


def read_journal(path: Path) -> Journal:
    """A journal read back; a line cut short by the process's death (the last one) is left out."""
    lines = []
    for text in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            break
    head, frames = lines[0], [line for line in lines[1:] if "faces" in line]
    width, height = frames[-1]["size"] if frames else (0, 0)
    duration = frames[-1]["t_s"] if frames else 0.0
    result = AnalysisResult(
        file=head["name"],
        kind=MediaKind.VIDEO,
        width=width,
        height=height,
        fps=round(len(frames) / duration, 3) if duration > 0 else None,
        duration_s=duration,
        frames_analyzed=len(frames),
        faces=[f for line in frames for f in line["faces"]],
    )
    result.face_count = len(result.faces)
    markers = [tuple(line["marker"]) for line in lines if "marker" in line]
    return Journal(
        path=Path(path),
        identity=head["identity"],
        pid=head["pid"],
        name=head["name"],
        started_at=datetime.fromisoformat(head["started_at"]),
        max_fps=head["max_fps"],
        destination=LiveDestination(**head["destination"]),
        result=result,
        markers=markers,
    )


def head_words(head: dict | None, *, turn_deg: float = 15.0) -> str | None:
    """The head's direction in words ("facing the camera", "turned right", "turned left and down" ...), as
    seen in the picture; None without a reading."""
    if not head:
        return None
    parts = []
    if abs(head["yaw"]) >= turn_deg:
        parts.append("right" if head["yaw"] > 0 else "left")
    if abs(head["pitch"]) >= turn_deg:
        parts.append("up" if head["pitch"] > 0 else "down")
    return "turned " + " and ".join(parts) if parts else "facing the camera"


def frame_labels(records: list[dict]) -> list[tuple]:
    """(x, y, w, h, text, emotion) for ``draw_labels``: the ensemble's label and confidence, then each model's,
    then whether the person looks at the camera or where the head points."""
    out = []
    for r in records:
        preds = r["predictions"]
        first = ENSEMBLE if ENSEMBLE in preds else next(iter(preds))
        text = f"{preds[first]['label']} {preds[first]['confidence']:.0%}"
        text += "".join(f" | {MODELS[m].display} {preds[m]['label']}" for m in preds if m in MODELS)
        if r.get("looking") is not None:
            text += " | looking" if r["looking"] else f" | not looking ({head_words(r.get('head'))})"
        out.append((*r["box"], text, preds[first]["label"]))
    return out

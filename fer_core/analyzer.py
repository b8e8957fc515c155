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

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_core import constants as C
from fer_core.config import AnalyzerConfig
from fer_core.models.metrics import apply_temperature
from fer_core.vision.crop import face_crop
from fer_core.vision.media import (
    Frame,
    media_kind,
    read_image,
    sample_video,
    video_info,
)
from fer_core.vision.pictures import face_jpeg
from fer_core.vision.states import brow_label
from fer_core.vision.tracking import Tracker

ProgressFn = Callable[[float, str], None]
FacesFn = Callable[[list[dict]], None]


@dataclass
class AnalysisResult:
    file: str
    kind: str  # "photo" or "video"
    width: int
    height: int
    fps: float | None = None
    duration_s: float | None = None
    frames_analyzed: int = 0
    faces: list[dict] = field(default_factory=list)  # empty when the faces were streamed to ``on_faces``
    face_count: int = 0
    thumbnails: list[bytes] = field(default_factory=list)  # JPEG per face, when asked for
    warnings: list[str] = field(default_factory=list)  # things the user should know, e.g. limits applied
    no_face: str | None = None  # when no face was found: the likely cause and what to try
    brow_heights: dict = field(default_factory=dict, repr=False)  # per track, the brow heights seen so far

    def to_frame(self):
        """Long table: one row per (face, model incl. ensemble), probabilities as columns."""
        import pandas as pd

        rows = []
        for f in self.faces:
            base = {
                C.COL_FILE: f["file"],
                C.COL_FRAME: f["frame"],
                C.COL_T_S: f["t_s"],
                C.COL_X: f["box"][0],
                C.COL_Y: f["box"][1],
                C.COL_W: f["box"][2],
                C.COL_H: f["box"][3],
                C.COL_DET_SCORE: f["det_score"],
                C.COL_TRACK: f["track"],
            }
            for model, p in f["predictions"].items():
                rows.append(
                    {
                        **base,
                        C.COL_MODEL: model,
                        C.COL_LABEL: p["label"],
                        C.COL_CONFIDENCE: p["confidence"],
                        **p["probs"],
                    }
                )
        return pd.DataFrame(rows, columns=list(C.PREDICTION_COLUMNS))


# A model's classifier head fine-tuned to a population, by model: (kernel (D, 7), bias (7,)).
Heads = dict[str, tuple[np.ndarray, np.ndarray]]


def prediction_record(probs: np.ndarray) -> dict:
    i = int(np.argmax(probs))
    return {
        "label": C.EMOTIONS[i],
        "confidence": round(float(probs[i]), 6),
        "probs": {e: round(float(p), 6) for e, p in zip(C.EMOTIONS, probs)},
    }


class Analyzer:
    def __init__(self, config: AnalyzerConfig | None = None):
        self.config = (config or AnalyzerConfig()).validated()
        self._detectors: dict[bool, object] = {}  # video or not
        self._states = None
        self._states_executor = None
        self._card_settings: dict[str, tuple[bool, float]] = {}  # model -> (flip TTA, temperature)
        self._executor = None

    def __repr__(self) -> str:
        return f"Analyzer(models={self.config.models}, fps={self.config.fps}, min_face_px={self.config.min_face_px})"

    # ---------------------------------------------------------------- components
    def detector(self, *, video: bool = False):
        from fer_core.vision.detection import TURNED_CANDIDATES, TURNED_CANDIDATES_PHOTO, FaceDetector

        views = self.config.max_views_video if video else self.config.max_views_photo
        if video not in self._detectors:
            self._detectors[video] = FaceDetector(
                min_score=self.config.det_min_score,
                min_face_px=self.config.min_face_px,
                max_views=views,
                max_faces=self.config.max_faces,
                threads=self.config.threads,
                turned_candidates=TURNED_CANDIDATES if video else TURNED_CANDIDATES_PHOTO,
            )
        return self._detectors[video]

    def state_reader(self):
        """The facial-state reader (``vision.states``), or None when ``config.states`` is off."""
        if not self.config.states:
            return None
        if self._states is None:
            from fer_core.vision.states import Looking, StateReader

            cone = Looking(self.config.looking_cone_deg, self.config.looking_below_deg, self.config.camera_fov_deg)
            self._states = StateReader(threads=1, looking=cone)
        return self._states

    def model_info(self) -> dict[str, dict]:
        from fer_core.models.registry import spec

        return {m: {"version": spec(m, self.config.weights_dir).version} for m in self.config.models}

    def load_models(self) -> None:
        """Load every configured model now (raises WeightsError naming the file if one is missing)."""
        for m in self.config.models:
            self._model(m)

    def warm_up(self) -> None:
        """Load the models and the video detector and run each once on a blank input, so that the first
        frame of a live run (or an upload) does not pay for first calls."""
        self.load_models()
        self.detector(video=True).detect(np.zeros((480, 640, 3), np.uint8))
        self.classify(np.zeros((1, 48, 48), np.uint8), tta=False)
        self.state_reader()  # its landmark models loaded

    def engine(self) -> str:
        """ "openvino" (the models converted to LiteRT, run by OpenVINO's CPU runtime: the LiteRT numbers, about a
        quarter faster), "litert" (the same file on the LiteRT interpreter), "litert-int8" (the same with int8
        weights, only when asked for) or "keras". None of the first three imports TensorFlow."""
        from fer_core.models.engines import litert_available, openvino_available
        from fer_core.models.registry import WeightsError

        engine = self.config.engine
        if engine == "auto":
            return "openvino" if openvino_available() else "litert" if litert_available() else "keras"
        if engine == "openvino" and not openvino_available():
            raise WeightsError(
                "engine 'openvino' (FER_ENGINE) needs the openvino package, which is not installed: "
                "pip install -r requirements.txt, or use FER_ENGINE=auto"
            )
        if engine.startswith("litert") and not litert_available():
            raise WeightsError(
                f"engine {engine!r} (FER_ENGINE) needs the ai-edge-litert package, which "
                "is not installed: pip install -r requirements.txt, or use FER_ENGINE=auto"
            )
        return engine

    def _model(self, name: str):
        from fer_core.models.engines import load_lite, load_openvino
        from fer_core.models.registry import load_model

        engine = self.engine()
        if engine == "openvino":
            return load_openvino(name, self.config.weights_dir, threads=self.config.threads)
        if engine.startswith("litert"):
            return load_lite(name, self.config.weights_dir, threads=self.config.threads, int8=engine == "litert-int8")
        return load_model(name, self.config.weights_dir)

    def classify(self, crops: np.ndarray, *, tta: bool = True, heads: Heads | None = None) -> dict[str, np.ndarray]:
        """Probabilities (N, 7) per model, plus 'ensemble' (their mean) when there are several models.

        The models run side by side in threads (TensorFlow releases the GIL), each on
        its share of the cores: on 2 cores that beats one model after the other on
        both cores (benchmarks/core_speed.py).  Flip TTA (where the model card asks for
        it and ``tta`` allows it) goes in the same call. ``heads``: a model's classifier head fine-tuned to a
        population ({model: (kernel (D, 7), bias (7,))}, ``fer_core.adapt``) replaces its own.
        """
        from fer_core.models.nets import preprocess

        if len(crops) == 0:
            return {m: np.zeros((0, C.NUM_CLASSES), np.float32) for m in self._output_names()}
        x = preprocess(crops)
        heads = heads or {}
        models = list(self.config.models)
        if len(models) > 1 and self.config.parallel_models:
            out = dict(zip(models, self._pool().map(lambda m: self._classify_one(m, x, tta, heads.get(m)), models)))
        else:
            out = {m: self._classify_one(m, x, tta, heads.get(m)) for m in models}
        if len(models) > 1:
            out[C.ENSEMBLE] = np.mean([out[m] for m in models], axis=0)
        return out

    def features(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """Per model, the pooled features (N, D) its classifier head reads, of the crops as they are."""
        from fer_core.models.engines import with_features
        from fer_core.models.nets import preprocess

        x = preprocess(crops)
        return {
            m: _predict(with_features(self._model(m)), x, self.config.batch_size, features=True)[1]
            for m in self.config.models
        }

    def _classify_one(self, name: str, x: np.ndarray, tta: bool = True, head=None) -> np.ndarray:
        from fer_core.models.engines import with_features
        from fer_core.models.registry import spec

        model = self._model(name)
        if name not in self._card_settings:  # read each model card once, not on every batch
            card = spec(name, self.config.weights_dir).card()
            self._card_settings[name] = (bool(card.get("tta_flip")), float(card.get("temperature", 1.0)))
        tta_flip, temperature = self._card_settings[name]
        n = len(x)
        if tta_flip and tta:  # the face and its mirror image, averaged
            x = np.concatenate([x, x[:, :, ::-1]])
        if head is None:
            probs = _predict(model, x, self.config.batch_size)
        else:  # the population's head on the model's own features; fitted on labels, so no temperature
            features = _predict(with_features(model), x, self.config.batch_size, features=True)[1]
            probs, temperature = head_probabilities(features, *head), 1.0
        if len(probs) > n:
            probs = (probs[:n] + probs[n:]) / 2
        return apply_temperature(probs, temperature)

    def _pool(self):
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(len(self.config.models), thread_name_prefix="classify")
        return self._executor

    def _states_thread(self):
        if self._states_executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._states_executor = ThreadPoolExecutor(1, thread_name_prefix="states")
        return self._states_executor

    def _output_names(self) -> list[str]:
        return list(self.config.models) + ([C.ENSEMBLE] if len(self.config.models) > 1 else [])

    # ---------------------------------------------------------------- analysis
    def analyze_file(
        self,
        path: str | Path,
        *,
        on_progress: ProgressFn | None = None,
        thumbnails: bool = False,
        on_faces: FacesFn | None = None,
        heads: Heads | None = None,
    ) -> AnalysisResult:
        """Analyse a photo or a video; ``thumbnails`` also keeps a small JPEG of every face.

        With ``on_faces``, each batch's face records go to it instead of ``result.faces``,
        so memory stays flat however long the video (the CLI prints them as they come). ``heads``: classifier
        heads fine-tuned to a population (``classify``)."""
        analyze = self.analyze_video if media_kind(path) == C.MediaKind.VIDEO else self.analyze_image
        return analyze(path, on_progress=on_progress, thumbnails=thumbnails, on_faces=on_faces, heads=heads)

    def analyze_image(
        self,
        path: str | Path,
        *,
        on_progress: ProgressFn | None = None,
        thumbnails: bool = False,
        on_faces: FacesFn | None = None,
        heads: Heads | None = None,
    ) -> AnalysisResult:
        """Detect and classify every face of one photo (frame 0, t_s 0, no track)."""
        notes: list[str] = []
        image = read_image(path, max_pixels=self.config.max_image_pixels, notes=notes)
        result = AnalysisResult(
            file=str(path), kind=C.MediaKind.PHOTO, width=image.shape[1], height=image.shape[0], warnings=notes
        )
        found, crops = self._detect(result, [Frame(0, 0.0, image)], tracker=None, thumbnails=thumbnails)
        self._classify_found(result, found, crops, on_faces=on_faces, heads=heads)
        if not result.face_count:
            result.no_face = self._why_no_face([image])
        if on_progress:
            on_progress(1.0, f"{Path(path).name}: {result.face_count} faces")
        return result

    def analyze_video(
        self,
        path: str | Path,
        *,
        on_progress: ProgressFn | None = None,
        thumbnails: bool = False,
        on_faces: FacesFn | None = None,
        heads: Heads | None = None,
    ) -> AnalysisResult:
        """Sample the video at ``config.fps``, detect, track and classify every face."""
        info = video_info(path)
        result = AnalysisResult(
            file=str(path),
            kind=C.MediaKind.VIDEO,
            width=info.width,
            height=info.height,
            fps=info.fps,
            duration_s=round(info.duration_s, 3),
        )
        tracker = Tracker()
        last_t = [0.0]
        looks: list[np.ndarray] = []  # a few frames to tell why, should no face be found
        sampled = [0]

        def detected_chunks():
            chunk: list[Frame] = []
            for frame in sample_video(path, fps=self.config.fps, max_seconds=self.config.max_video_seconds):
                chunk.append(frame)
                last_t[0] = frame.t_s
                sampled[0] += 1
                if sampled[0] % 10 == 1 and len(looks) < 6 and not result.face_count:
                    looks.append(frame.image)  # a fresh array per frame: kept as it is
                if len(chunk) >= self.config.frames_per_batch:
                    yield self._detect(result, chunk, tracker=tracker, thumbnails=thumbnails), chunk[-1].t_s
                    chunk = []
            yield self._detect(result, chunk, tracker=tracker, thumbnails=thumbnails), info.duration_s

        # Decoding and detection of the next chunk overlap with classifying this one (a second thread).
        chunks = _prefetch(detected_chunks()) if self.config.pipeline_video else detected_chunks()
        for (found, crops), t_s in chunks:
            self._classify_found(result, found, crops, tta=self.config.video_tta, on_faces=on_faces, heads=heads)
            if on_progress and info.duration_s > 0:
                on_progress(min(t_s / info.duration_s, 1.0), f"{Path(path).name}: {t_s:.0f} of {info.duration_s:.0f} s")
        # the container may not say, say the impossible, or (variable frame rate phones) say less than its frames
        # run to: the video lasts at least as far as it played
        result.duration_s = round(max(result.duration_s or 0.0, last_t[0]), 3)
        if not result.face_count:
            result.no_face = self._why_no_face(looks)
        if on_progress:
            on_progress(1.0, f"{Path(path).name}: {result.frames_analyzed} frames, {result.face_count} faces")
        return result

    def analyze_frame(
        self,
        result: AnalysisResult,
        frame: Frame,
        *,
        tracker: Tracker,
        thumbnails: bool = False,
        heads: Heads | None = None,
    ) -> list[dict]:
        """One frame of a live run: its faces found, tracked by ``tracker`` and classified as a video's are;
        the records are added to ``result.faces`` (and thumbnails to ``result.thumbnails``) and returned."""
        before = len(result.faces)
        found, crops = self._detect(result, [frame], tracker=tracker, thumbnails=thumbnails)
        self._classify_found(result, found, crops, tta=self.config.video_tta, heads=heads)
        return result.faces[before:]

    def _why_no_face(self, images: list[np.ndarray]) -> str:
        from fer_core.vision.no_face import why_no_face

        return why_no_face(images, min_face_px=self.config.min_face_px, det_min_score=self.config.det_min_score)

    def _detect(
        self, result: AnalysisResult, frames: list[Frame], *, tracker: Tracker | None, thumbnails: bool = False
    ) -> tuple[list, list[np.ndarray]]:
        """Faces of ``frames`` with their track ids, what reading their states needs (``states.FaceCut``) and
        48x48 crops; the frames themselves are not kept."""
        detector = self.detector(video=tracker is not None)
        reader = self.state_reader()
        found, crops = [], []
        for frame in frames:
            faces = detector.detect(frame.image)
            if len(faces) >= self.config.max_faces:
                where = f"frame {frame.index} ({frame.t_s:.1f} s)" if tracker else "the photo"
                result.warnings.append(
                    f"{Path(result.file).name}: {where} has {self.config.max_faces} faces or "
                    f"more; only the {self.config.max_faces} clearest were analysed "
                    "(FER_MAX_FACES)"
                )
            tracks = tracker.update([f.box for f in faces], frame.t_s) if tracker else [None] * len(faces)
            for face, track in zip(faces, tracks):
                cut = reader.cut(frame.image, face, quick=tracker is not None) if reader else None
                found.append((frame.index, frame.t_s, face, track, cut))
                crops.append(self.crop(frame.image, face))
                if thumbnails:
                    result.thumbnails.append(face_jpeg(frame.image, face.box))
        result.frames_analyzed += len(frames)
        return found, crops

    def crop(self, image: np.ndarray, face) -> np.ndarray:
        """The 48x48 classifier input for a detected face: around its whole box (also where the frame cuts
        it), turned so the eyes are level when ``config.align`` is on."""
        return face_crop(image, face.crop_box, eyes=face.eyes if self.config.align else None)

    def _classify_found(
        self,
        result: AnalysisResult,
        found: list,
        crops: list[np.ndarray],
        *,
        tta: bool = True,
        on_faces: FacesFn | None = None,
        heads: Heads | None = None,
    ) -> None:
        if not found:
            return
        reader, cuts = self.state_reader(), [f[4] for f in found]
        # The landmark models read the faces while the emotion models classify them (in video the other thread,
        # decoding and detecting the next frames, is the busier one: benchmarks/video_speed_ab.py).
        pending = self._states_thread().submit(lambda: [reader.read_cut(c) for c in cuts]) if reader else None
        probs = self.classify(np.stack(crops), tta=tta, heads=heads)
        states = pending.result() if pending else [None] * len(found)
        found = [(*f[:4], s) for f, s in zip(found, states)]
        records = [
            {
                "file": result.file,
                "frame": index,
                "t_s": t_s,
                "box": list(face.box),
                "det_score": round(face.score, 4),
                "track": track,
                "predictions": {m: prediction_record(p[i]) for m, p in probs.items()},
                **(states.record() if states else {}),
            }
            for i, (index, t_s, face, track, states) in enumerate(found)
        ]
        for r in records:  # brows against the person's own typical height so far (their track's median)
            if r.get("brow_height") is not None and r["track"] is not None:
                seen = result.brow_heights.setdefault(r["track"], [])
                seen.append(r["brow_height"])
                r["brows"] = brow_label(r["brow_height"], seen)
        result.face_count += len(records)
        if on_faces:
            on_faces(records)
        else:
            result.faces.extend(records)


def _prefetch(items: Iterator, depth: int = 2) -> Iterator:
    """Run the generator ``items`` in a background thread, ``depth`` items ahead; its errors surface here."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", done))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(("error", exc))

    thread = threading.Thread(target=work, daemon=True, name="decode-detect")
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()  # the consumer stopped early (an error): let the producer end


def _predict(model, x: np.ndarray, batch_size: int, *, features: bool = False):
    """Batched inference: probabilities, or with ``features`` (probabilities, pooled features) from a model of
    ``engines.with_features``. For Keras and LiteRT each chunk is zero-padded to a power of two so the model sees a
    handful of shapes: a new shape costs Keras a retrace of about a second (so at least 8 there), LiteRT a
    reallocation. OpenVINO's one network takes any batch size (a new one costs it a few ms once): no padding."""
    from fer_core.models.engines import LiteModel, OpenVinoModel

    smallest = 1 if isinstance(model, LiteModel) else 8
    probs, feats = [], []
    for i in range(0, len(x), batch_size):
        chunk = x[i : i + batch_size]
        n = len(chunk)
        padded = n if isinstance(model, OpenVinoModel) else max(smallest, 1 << (n - 1).bit_length())
        if padded != n:
            chunk = np.concatenate([chunk, np.zeros((padded - n, *chunk.shape[1:]), chunk.dtype)])
        if features:
            p, f = model.features_on_batch(chunk)
            feats.append(np.asarray(f, dtype=np.float32)[:n])
        else:
            p = model.predict_on_batch(chunk)
        probs.append(np.asarray(p, dtype=np.float32)[:n])
    return (np.concatenate(probs), np.concatenate(feats)) if features else np.concatenate(probs)


def head_probabilities(features: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """softmax(features @ kernel + bias): what a classifier head (the nets' final Dense layer) gives."""
    z = features @ kernel + bias
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

"""Facial states of one face reading, from its landmarks: head orientation, gaze and whether the person looks at
the camera, eyes open, mouth open and brow height.

The landmarks come from the two MediaPipe models the detection package ships: FaceMesh (468 points in 3D, on
the face turned so its eyes are level, 1.5 times its box, as MediaPipe crops it) and the iris model (each eye,
2.3 times its corner-to-corner width). The camera model is the mesh's own: its points are in image pixels with
a depth in the same units, an orthographic view of the face (docs/states.md).

Sign conventions (as the analyze JSON promises): ``yaw`` is positive when the nose points to the image's right,
``pitch`` when the face looks up, ``roll`` when the head tilts clockwise as seen in the picture. They are read
from the face's own axes: left-right from four pairs of mirror points (eye corners, mouth corners, cheeks),
up from chin to forehead, forward as their cross product. So a mirrored photo gives the opposite yaw and roll
and the same pitch, and a photo turned in its plane changes the roll by the turn.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace

import cv2
import numpy as np

MESH_INPUT = 192
MESH_SCALE = 1.5
MESH_PASSES = 3  # the crop follows the previous pass's points: from the third on, it has settled
IRIS_INPUT = 64
IRIS_SCALE = 2.3  # MediaPipe's eye crop: 2.3 times the eye's corner-to-corner width
MIN_PRESENCE = 0.5  # FaceMesh's face-presence score below which its points are not trusted
MIN_FACE_PX = 40  # below this box side the eyes span a few pixels: no state is read
MIN_SHARPNESS = 12.0  # variance of the Laplacian of the 96 px face: below it, too blurred to read eyes and brows
MAX_CUT = 0.2  # share of the face's box outside the frame beyond which its landmarks are guesses

# MediaPipe FaceMesh indices (the person's right and left)
RIGHT_EYE = {"outer": 33, "inner": 133, "upper": (160, 159, 158), "lower": (144, 145, 153)}
LEFT_EYE = {"outer": 263, "inner": 362, "upper": (387, 386, 385), "lower": (373, 374, 380)}
PAIRS = ((33, 263), (133, 362), (61, 291), (234, 454))  # (person's right, left) mirror points
FOREHEAD, CHIN = 10, 152
MOUTH = {"right": 61, "left": 291, "upper": 13, "lower": 14}
BROWS = {"right": (70, 63, 105, 66, 107), "left": (300, 293, 334, 296, 336)}
# Every point read, as (person's right, left) pairs and points on the midline: a mirrored face swaps each pair.
MIRROR = (
    *PAIRS,
    *zip(RIGHT_EYE["upper"], LEFT_EYE["upper"]),
    *zip(RIGHT_EYE["lower"], LEFT_EYE["lower"]),
    *zip(BROWS["right"], BROWS["left"]),
)
MIDLINE = (FOREHEAD, CHIN, MOUTH["upper"], MOUTH["lower"])

# The iris model's eye contour: points 0-8 the lower lid from corner to corner, 9-15 the upper lid between them
CONTOUR_CORNERS = (0, 8)
CONTOUR_LIDS = ((11, 3), (12, 4), (13, 5))  # upper and lower lid points facing each other
# Eye opening: the eye aspect ratio (lid gap over corner distance; Soukupova and Cech, CVWW 2016) mapped to
# 0-1 between a closed and an open eye; 0.5 is their blink threshold of 0.2.
EAR_CLOSED, EAR_OPEN = 0.12, 0.28
# Mouth opening: the inner lips' gap over the mouth's width; 1 from a gap of half the width (a wide yawn).
MOUTH_WIDE = 0.5
# An eyeball's radius is about 0.85 of half the eye's visible width (12 mm against 14 mm): an iris moved by a
# fraction h of the half width turns the eye by asin(h / 0.85).
EYE_RADIUS = 0.85


# Brows are raised or lowered when their height (over the distance between the eyes) is this far from the
# person's own median height: about a third of the difference between FER-2013's surprised and neutral faces.
BROW_STEP = 0.04
BROW_MIN_READINGS = 5  # the person's readings needed before their own typical brow height is known


def brow_label(height: float | None, typical: list[float] | np.ndarray) -> str | None:
    """ "raised", "neutral" or "lowered" against the median of ``typical`` (the person's brow heights), or None
    while fewer than ``BROW_MIN_READINGS`` of them are known."""
    if height is None or len(typical) < BROW_MIN_READINGS:
        return None
    median = float(np.median(typical))
    return "raised" if height > median + BROW_STEP else "lowered" if height < median - BROW_STEP else "neutral"


@dataclass(frozen=True)
class Looking:
    """Where "looking" points: a cone of ``cone_deg`` around the direction ``below_deg`` below the camera (a
    screen under a camera on top), the camera seeing ``fov_deg`` across its width."""

    cone_deg: float = 25.0
    below_deg: float = 10.0
    fov_deg: float = 60.0


@dataclass(frozen=True)
class FaceCut:
    """What reading one face's states needs of its frame (``StateReader.cut``): for a video frame only the pixels
    around the face, so that the frame need not be kept while its faces wait to be read."""

    image: np.ndarray | None  # the pixels around the face (a photo: the whole image); None when ``missing``
    face: object  # the detector's Face, in the frame's pixels
    origin: tuple[int, int]  # where ``image`` starts in the frame (x, y)
    frame_size: tuple[int, int]  # the frame's (w, h)
    quick: bool
    missing: str | None = None


@dataclass
class States:
    """One reading's states; None where not measured (``missing`` says why)."""

    yaw: float | None = None
    pitch: float | None = None
    roll: float | None = None
    gaze_yaw: float | None = None
    gaze_pitch: float | None = None
    looking: bool | None = None
    eyes_open: float | None = None
    mouth_open: float | None = None
    brow_height: float | None = None
    missing: str | None = None

    def record(self) -> dict:
        """The analyze JSON's names (``brows`` is set later, against the person's own brow height)."""
        head = None if self.yaw is None else {"yaw": self.yaw, "pitch": self.pitch, "roll": self.roll}
        gaze = None if self.gaze_yaw is None else {"yaw": self.gaze_yaw, "pitch": self.gaze_pitch}
        out = {
            "head": head,
            "gaze": gaze,
            "looking": self.looking,
            "eyes_open": self.eyes_open,
            "mouth_open": self.mouth_open,
            "brow_height": self.brow_height,
            "brows": None,
        }
        if self.missing:
            out["states_missing"] = self.missing
        return out


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else v


def head_pose(points: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from the mesh points (x right, y down, depth away from the camera).

    The head's rotation is taken apart as roll after pitch after yaw (R = Rz(roll) Rx(pitch) Ry(yaw)): roll
    is then the only angle an in-plane turn of the picture changes."""
    across = _unit(sum(_unit(points[left] - points[right]) for right, left in PAIRS))
    down = points[CHIN] - points[FOREHEAD]
    down = _unit(down - (down @ across) * across)
    away = np.cross(across, down)  # from the face away from the camera: (0, 0, 1) for a frontal face
    r = np.column_stack([across, down, away])
    # signs: positive yaw turns the nose to the image's right, positive pitch looks up, positive roll is clockwise
    yaw = -math.degrees(math.atan2(-r[2, 0], r[2, 2]))
    pitch = -math.degrees(math.asin(float(np.clip(r[2, 1], -1.0, 1.0))))
    roll = math.degrees(math.atan2(-r[0, 1], r[1, 1]))
    return yaw, pitch, roll


def eye_opening(points: np.ndarray, eye: dict) -> float:
    width = np.linalg.norm(points[eye["outer"], :2] - points[eye["inner"], :2])
    gaps = [np.linalg.norm(points[u, :2] - points[d, :2]) for u, d in zip(eye["upper"], eye["lower"])]
    return float(np.mean(gaps) / max(width, 1e-6))


def mouth_opening(points: np.ndarray) -> float:
    width = np.linalg.norm(points[MOUTH["left"], :2] - points[MOUTH["right"], :2])
    gap = np.linalg.norm(points[MOUTH["upper"], :2] - points[MOUTH["lower"], :2])
    return float(np.clip(gap / max(width, 1e-6) / MOUTH_WIDE, 0.0, 1.0))


def brow_height(points: np.ndarray) -> float:
    """Mean height of the brows above the eyes' corners, over the distance between the eyes (2D, upright)."""
    right_eye = (points[RIGHT_EYE["outer"], :2] + points[RIGHT_EYE["inner"], :2]) / 2
    left_eye = (points[LEFT_EYE["outer"], :2] + points[LEFT_EYE["inner"], :2]) / 2
    across = _unit(left_eye - right_eye)
    up = np.array([across[1], -across[0]])  # the face's up in the image, whatever its roll
    heights = [
        (points[list(BROWS[s]), :2].mean(axis=0) - c) @ up for s, c in (("right", right_eye), ("left", left_eye))
    ]
    return float(np.mean(heights) / max(np.linalg.norm(left_eye - right_eye), 1e-6))


def looking_at(gaze_yaw: float, gaze_pitch: float, centre: tuple[float, float], size: tuple[int, int], cone: Looking):
    """Whether a gaze from a face at ``centre`` of an image of ``size`` (w, h) points within the cone."""
    w, h = size
    focal = (w / 2) / math.tan(math.radians(cone.fov_deg) / 2)
    # to look at the camera, a face right of the image's centre turns left (negative yaw), one below it looks up
    target_yaw = -math.degrees(math.atan2(centre[0] - w / 2, focal))
    target_pitch = math.degrees(math.atan2(centre[1] - h / 2, focal)) - cone.below_deg
    a = _direction(gaze_yaw, gaze_pitch)
    b = _direction(target_yaw, target_pitch)
    return math.degrees(math.acos(float(np.clip(a @ b, -1.0, 1.0)))) <= cone.cone_deg


def _direction(yaw: float, pitch: float) -> np.ndarray:
    y, p = math.radians(yaw), math.radians(pitch)
    return np.array([math.sin(y) * math.cos(p), -math.sin(p), math.cos(y) * math.cos(p)])


class StateReader:
    """Reads ``States`` for detected faces; one per analyser (the interpreters are not re-entrant: a lock)."""

    def __init__(self, *, threads: int = 1, looking: Looking | None = None):
        from fer_core.vision.detection import _load_interpreter

        self.looking = looking or Looking()
        self.mesh = _load_interpreter("face_landmark.tflite", threads)
        self.iris = _load_interpreter("iris_landmark.tflite", threads)
        self._mesh_io = (
            self.mesh.get_input_details()[0]["index"],
            [d["index"] for d in self.mesh.get_output_details()],
        )
        self._iris_io = (
            self.iris.get_input_details()[0]["index"],
            [d["index"] for d in self.iris.get_output_details()],
        )
        self.lock = threading.Lock()

    def read(self, image_bgr: np.ndarray, face, *, quick: bool = False) -> States:
        """The face's states. ``quick`` (video and live frames): one FaceMesh run on the detector's box, not
        three passes each with its mirror image, and the iris model on the eye seen wider only: about a third of
        the cost, without the exact mirror symmetry (docs/states.md)."""
        return self.read_cut(self.cut(image_bgr, face, quick=quick))

    def cut(self, image_bgr: np.ndarray, face, *, quick: bool = False) -> FaceCut:
        """The face's checks (too small, cut by the edge, blurred) and the pixels its reading needs: for
        ``quick`` a copy of the square that holds the landmark model's crop at any turn (twice MESH_SCALE times
        the box), for a photo the image itself (its passes follow the face wherever the points lead)."""
        ih, iw = image_bgr.shape[:2]
        why = self._unreadable(image_bgr, face)
        if why:
            return FaceCut(None, face, (0, 0), (iw, ih), quick, missing=why)
        if not quick:
            return FaceCut(image_bgr, face, (0, 0), (iw, ih), quick)
        x, y, w, h = face.full_box or face.box
        reach = MESH_SCALE * max(w, h)
        x0, y0 = max(int(x + w / 2 - reach), 0), max(int(y + h / 2 - reach), 0)
        x1, y1 = min(int(x + w / 2 + reach) + 1, iw), min(int(y + h / 2 + reach) + 1, ih)
        return FaceCut(image_bgr[y0:y1, x0:x1].copy(), face, (x0, y0), (iw, ih), quick)

    def read_cut(self, cut: FaceCut) -> States:
        """The states of a face from its ``cut``."""
        if cut.missing:
            return States(missing=cut.missing)
        image_bgr, (ox, oy) = cut.image, cut.origin
        face = _moved(cut.face, -ox, -oy)
        passes = 1 if cut.quick else MESH_PASSES
        points, presence = self._landmarks(image_bgr, face, passes=passes, mirror=not cut.quick)
        if presence < MIN_PRESENCE:
            return States(missing="no landmarks found on the face")
        yaw, pitch, roll = head_pose(points)
        eye_yaw, eye_pitch, openings = self._eyes(image_bgr, points, both=not cut.quick)
        if not openings:  # eyes too small for the iris model: the mesh's own lids
            openings = [eye_opening(points, RIGHT_EYE), eye_opening(points, LEFT_EYE)]
        eyes_open = float(np.clip((np.mean(openings) - EAR_CLOSED) / (EAR_OPEN - EAR_CLOSED), 0.0, 1.0))
        gaze_yaw, gaze_pitch = yaw + eye_yaw, pitch + eye_pitch
        x, y, w, h = cut.face.full_box or cut.face.box
        return States(
            yaw=round(yaw, 1),
            pitch=round(pitch, 1),
            roll=round(roll, 1),
            gaze_yaw=round(gaze_yaw, 1),
            gaze_pitch=round(gaze_pitch, 1),
            looking=bool(looking_at(gaze_yaw, gaze_pitch, (x + w / 2, y + h / 2), cut.frame_size, self.looking)),
            eyes_open=round(eyes_open, 3),
            mouth_open=round(mouth_opening(points), 3),
            brow_height=round(brow_height(points), 4),
        )

    @staticmethod
    def _unreadable(image_bgr: np.ndarray, face) -> str | None:
        x, y, w, h = face.full_box or face.box
        if min(w, h) < MIN_FACE_PX:
            return "face too small"
        ih, iw = image_bgr.shape[:2]
        inside = max(0, min(x + w, iw) - max(x, 0)) * max(0, min(y + h, ih) - max(y, 0))
        if inside < (1 - MAX_CUT) * w * h:
            return "face cut by the frame's edge"
        x0, y0 = max(x, 0), max(y, 0)
        grey = cv2.cvtColor(image_bgr[y0 : y + h, x0 : x + w], cv2.COLOR_BGR2GRAY)
        if cv2.Laplacian(cv2.resize(grey, (96, 96), interpolation=cv2.INTER_AREA), cv2.CV_64F).var() < MIN_SHARPNESS:
            return "face too blurred"
        return None

    def _landmarks(self, image_bgr: np.ndarray, face, *, passes: int, mirror: bool) -> tuple[np.ndarray, float]:
        """The mesh points read (``MIRROR``, ``MIDLINE``) in image pixels, depth in the same units, and
        FaceMesh's face-presence score. Two passes, as MediaPipe tracks a face: the first on the detector's
        box, the second on the box and eye line of the first's points, so that the crop follows the face
        itself and not the detector's estimate of it."""
        x, y, w, h = face.full_box or face.box
        angle = 0.0
        if face.eyes is not None:
            (rx, ry), (lx, ly) = face.eyes
            angle = math.degrees(math.atan2(ly - ry, lx - rx))
        points, presence = self._mesh(image_bgr, (x + w / 2, y + h / 2), MESH_SCALE * max(w, h), angle, mirror)
        used = [i for pair in MIRROR for i in pair] + list(MIDLINE)
        for _ in range(passes - 1):
            low, high = points[used, :2].min(axis=0), points[used, :2].max(axis=0)
            eye_line = points[LEFT_EYE["outer"], :2] - points[RIGHT_EYE["outer"], :2]
            side = MESH_SCALE * float(max(high - low))
            if side < 8:
                break
            turn = math.degrees(math.atan2(eye_line[1], eye_line[0]))
            points, presence = self._mesh(image_bgr, tuple((low + high) / 2), side, turn, mirror)
        return points, presence

    def _mesh(
        self, image_bgr: np.ndarray, centre, side: float, angle: float, mirror: bool = True
    ) -> tuple[np.ndarray, float]:
        """FaceMesh on a square of ``side`` around ``centre`` turned by ``angle``, and on its mirror image; the
        points read are the mean of the two (the mirrored run's pairs swapped back), so that a mirrored photo
        reads as the mirror of the photo."""
        cx, cy = centre
        scale = MESH_INPUT / side
        m = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, scale)
        m[:, 2] += MESH_INPUT / 2 - np.array([cx, cy])
        crop = cv2.warpAffine(image_bgr, m, (MESH_INPUT, MESH_INPUT), borderMode=cv2.BORDER_REPLICATE)
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        inp, (out_points, out_flag) = self._mesh_io
        runs, logits = [], []
        with self.lock:
            for tensor in (rgb, np.ascontiguousarray(rgb[:, ::-1])) if mirror else (rgb,):
                self.mesh.set_tensor(inp, tensor[None])
                self.mesh.invoke()
                runs.append(self.mesh.get_tensor(out_points).reshape(-1, 3).astype(np.float64))
                logits.append(float(self.mesh.get_tensor(out_flag).ravel()[-1]))
        raw = runs[0]
        if mirror:
            mirrored = runs[1]
            mirrored[:, 0] = MESH_INPUT - mirrored[:, 0]
            for right, left in MIRROR:
                mirrored[[right, left]] = mirrored[[left, right]]
            raw = (raw + mirrored) / 2
        back = cv2.invertAffineTransform(m)
        xy = raw[:, :2] @ back[:, :2].T + back[:, 2]
        logit = float(np.mean(logits))
        return np.column_stack([xy, raw[:, 2] / scale]), 1 / (1 + math.exp(-max(min(logit, 80.0), -80.0)))

    def _eyes(self, image_bgr: np.ndarray, points: np.ndarray, both: bool = True) -> tuple[float, float, list[float]]:
        """How far the eyes turn from the head's direction (yaw, pitch in degrees, averaged over the two eyes),
        from each iris's centre against its eye's corners, and each eye's opening (aspect ratio) from the iris
        model's own eyelid contour, which follows a closing lid more closely than the face mesh does.
        Without ``both``, only the eye seen wider: the iris model is half the cost of a reading, and in a
        turned face the far eye is foreshortened and partly hidden by the nose."""
        eyes = [(RIGHT_EYE, False), (LEFT_EYE, True)]
        if not both:
            eyes = [max(eyes, key=lambda e: np.linalg.norm(points[e[0]["outer"], :2] - points[e[0]["inner"], :2]))]
        turns, openings = [], []
        for eye, flip in eyes:
            a, b = points[eye["outer"], :2], points[eye["inner"], :2]
            centre = (a + b) / 2
            width = float(np.linalg.norm(b - a))
            if width < 4:
                continue
            iris, contour = self._iris(image_bgr, centre, a, b, width, flip)
            across = _unit(b - a if b[0] >= a[0] else a - b)  # along the eye, toward the image's right
            down = np.array([-across[1], across[0]])
            lids = (points[list(eye["upper"]), :2].mean(axis=0) + points[list(eye["lower"]), :2].mean(axis=0)) / 2
            h = float((iris - centre) @ across) / (width / 2)
            v = float((iris - lids) @ down) / (width / 2)
            turns.append(
                (
                    math.degrees(math.asin(float(np.clip(h / EYE_RADIUS, -1, 1)))),
                    -math.degrees(math.asin(float(np.clip(v / EYE_RADIUS, -1, 1)))),
                )
            )
            corner = np.linalg.norm(contour[CONTOUR_CORNERS[0]] - contour[CONTOUR_CORNERS[1]])
            gaps = [np.linalg.norm(contour[u] - contour[d]) for u, d in CONTOUR_LIDS]
            openings.append(float(np.mean(gaps) / max(corner, 1e-6)))
        if not turns:
            return 0.0, 0.0, []
        yaw, pitch = np.mean(turns, axis=0)
        return float(yaw), float(pitch), openings

    def _iris(self, image_bgr, centre, a, b, width, flip: bool) -> tuple[np.ndarray, np.ndarray]:
        """The iris centre in image pixels and the eye's contour (71 points, in the model's 64 px crop): the
        iris model on a square 2.3 eye-widths wide, level with the eye (the person's left eye mirrored, as the
        model was trained on the right one)."""
        side = IRIS_SCALE * width
        d = b - a if b[0] >= a[0] else a - b
        angle = math.degrees(math.atan2(d[1], d[0]))
        scale = IRIS_INPUT / side
        m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
        m[:, 2] += IRIS_INPUT / 2 - centre
        crop = cv2.warpAffine(image_bgr, m, (IRIS_INPUT, IRIS_INPUT), borderMode=cv2.BORDER_REPLICATE)
        if flip:
            crop = crop[:, ::-1]
        tensor = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_BGR2RGB).astype(np.float32)[None] / 255.0
        inp, outs = self._iris_io
        with self.lock:
            self.iris.set_tensor(inp, tensor)
            self.iris.invoke()
            contour = self.iris.get_tensor(outs[0]).reshape(-1, 3)[:, :2].astype(np.float64)
            iris = self.iris.get_tensor(outs[1]).reshape(-1, 3)[0, :2].astype(np.float64)
        if flip:
            iris[0] = IRIS_INPUT - iris[0]
        back = cv2.invertAffineTransform(m)
        return back[:, :2] @ iris + back[:, 2], contour


def _moved(face, dx: int, dy: int):
    """The detector's Face with its box, full box and eyes moved by (dx, dy) pixels."""
    if not dx and not dy:
        return face
    eyes = None if face.eyes is None else tuple((ex + dx, ey + dy) for ex, ey in face.eyes)
    full = None if face.full_box is None else (face.full_box[0] + dx, face.full_box[1] + dy, *face.full_box[2:])
    return replace(face, x=face.x + dx, y=face.y + dy, eyes=eyes, full_box=full)

"""Why no face was found in a photo or video, in words a researcher can act on.

Asked only when a file gave no face, so it may cost a second look: the brightness of the pictures, then the
detector once more with the smallest faces and lowest scores it can take.
"""

from __future__ import annotations

import cv2
import numpy as np

DARK = 50  # mean grey level (of 255) under which a picture is too dark for the detector and the models
LOOK_AGAIN_MIN_PX = 16
LOOK_AGAIN_SCORE = 0.5


def why_no_face(images: list[np.ndarray], *, min_face_px: int, det_min_score: float) -> str:
    """One sentence: the likely cause and what to try, from a few of the file's pictures (BGR)."""
    if not images:
        return "No face was found: the file gave no picture to look at."
    brightness = float(np.median([cv2.cvtColor(i, cv2.COLOR_BGR2GRAY).mean() for i in images]))
    if brightness < DARK:
        return (
            f"No face was found, and the picture is dark (mean brightness {brightness:.0f} of 255): "
            "light the faces better, or brighten the file before uploading it."
        )
    from fer_core.vision.detection import FaceDetector

    closer = FaceDetector(min_face_px=LOOK_AGAIN_MIN_PX, min_score=LOOK_AGAIN_SCORE)
    seen = [f for i in images for f in closer.detect(i)]
    if seen:
        small = [f for f in seen if min(f.w, f.h) < min_face_px]
        if small:
            side = int(np.median([min(f.w, f.h) for f in small]))
            return (
                f"No face was found at the settings used: the faces are about {side} px, smaller than the "
                f'smallest face analysed ({min_face_px} px). Lower "Smallest face" (Manage, re-run analysis; '
                "`--min-face`), or film closer."
            )
        return (
            f"No face was found at the detector threshold used ({det_min_score:g}); something face-like is "
            "there at a lower score, perhaps a face turned away, covered or blurred. Lower the detector threshold "
            "(Manage, re-run analysis), or use a view where the face looks towards the camera."
        )
    return (
        "No face was found: a face turned more than about 60 degrees away, covered, blurred or cut by the edge "
        "is not seen. Use a view where the face looks towards the camera."
    )

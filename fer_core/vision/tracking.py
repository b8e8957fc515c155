"""Link faces across sampled video frames into tracks (one per participant, ideally).

Greedy IoU matching: each new box joins the live track whose last box overlaps
it most (IoU above ``min_iou``, or one box around the other's centre at up to
``MAX_NESTED_RATIO`` times its size: the same face boxed tighter or looser, as a
blurry frame or the detector's other model does); a track not seen for more than
``max_gap_s`` seconds of video ends.  The gap is in seconds, not in sampled frames, so the
sampling rate does not change who counts as one person.  Simple, and enough
for feedback videos where people sit fairly still.
"""

from __future__ import annotations


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


MAX_NESTED_RATIO = 2.5


def nested(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Whether the larger box holds the smaller one's centre and is at most MAX_NESTED_RATIO times as wide."""
    small, large = sorted((a, b), key=lambda r: r[2] * r[3])
    cx, cy = small[0] + small[2] / 2, small[1] + small[3] / 2
    inside = large[0] <= cx <= large[0] + large[2] and large[1] <= cy <= large[1] + large[3]
    return inside and large[2] <= MAX_NESTED_RATIO * small[2]


class Tracker:
    def __init__(self, *, min_iou: float = 0.3, max_gap_s: float = 1.5):
        self.min_iou, self.max_gap_s = min_iou, max_gap_s
        self._live: dict[int, tuple[tuple, float]] = {}  # track id -> (last box, time last seen)
        self._next_id = 0

    def update(self, boxes: list[tuple], t_s: float) -> list[int]:
        """Assign a track id to each box of the frame at ``t_s`` seconds (same order as ``boxes``)."""
        self._live = {t: v for t, v in self._live.items() if t_s - v[1] <= self.max_gap_s + 1e-6}
        pairs = sorted(
            ((self._affinity(b, last), i, t) for i, b in enumerate(boxes) for t, (last, _) in self._live.items()),
            reverse=True,
        )
        ids: list[int | None] = [None] * len(boxes)
        used: set[int] = set()
        for score, i, t in pairs:
            if score < self.min_iou:
                break
            if ids[i] is None and t not in used:
                ids[i] = t
                used.add(t)
        for i, b in enumerate(boxes):
            if ids[i] is None:
                ids[i] = self._next_id
                self._next_id += 1
            self._live[ids[i]] = (b, t_s)
        return ids  # type: ignore[return-value]

    def _affinity(self, box: tuple, last: tuple) -> float:
        score = iou(box, last)
        return self.min_iou if score < self.min_iou and nested(box, last) else score

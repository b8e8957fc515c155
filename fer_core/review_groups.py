"""Review by person: a track's consecutive frames that look alike grouped into one moment, so that a reviewer
labels a moment once instead of dozens of near-identical frames (each review is still stored per face).

A moment is one person's run of readings in one video: it ends where the person is away for more than
``gap_s``, where the ensemble's label changes, or after ``max_span_s`` (so that one label never covers a long
stretch unseen). A photo's face is a moment of its own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GAP_S = 1.5
MAX_SPAN_S = 10.0


def group_moments(faces: pd.DataFrame, *, gap_s: float = GAP_S, max_span_s: float = MAX_SPAN_S) -> pd.DataFrame:
    """``faces`` (as from ``queries.faces_to_review``) with a ``moment`` column: faces of one moment share it."""
    out = faces.sort_values(["media_id", "track", "t_s"], na_position="last").copy()
    if out.empty:
        return out.assign(moment=pd.Series(dtype=int))
    track = out["track"].astype("Int64")
    same_person = (out["media_id"] == out["media_id"].shift()) & (track == track.shift()).fillna(False)
    same_person &= track.notna()
    close = (out["t_s"] - out["t_s"].shift()) <= gap_s
    same_look = out["label_ensemble"] == out["label_ensemble"].shift()
    joined = (same_person & close & same_look).to_numpy()
    moment, start = np.zeros(len(out), dtype=int), out["t_s"].to_numpy()
    current, began = 0, start[0] if len(out) else 0.0
    for i in range(1, len(out)):
        if not (joined[i] and start[i] - began <= max_span_s):
            current, began = current + 1, start[i]
        moment[i] = current
    out["moment"] = moment
    return out.sort_index()


def moment_cards(grouped: pd.DataFrame) -> pd.DataFrame:
    """One row per moment: its middle face (the picture shown), ``faces`` (their ids), ``frames``, ``t_first``,
    ``t_last`` and ``review`` (the label every face of it has, else None)."""
    rows = []
    for _, part in grouped.sort_values("t_s").groupby("moment", sort=False):
        middle = part.iloc[len(part) // 2]
        reviews = part["review"].dropna().unique() if "review" in part else []
        rows.append(
            {
                **middle.to_dict(),
                "faces": [int(d) for d in part["detection_id"]],
                "frames": len(part),
                "t_first": float(part["t_s"].min()),
                "t_last": float(part["t_s"].max()),
                "review": reviews[0] if len(reviews) == 1 and part["review"].notna().all() else None,
            }
        )
    cards = pd.DataFrame(rows)
    return cards.sort_values(["media_id", "t_first"]).reset_index(drop=True) if len(cards) else cards

"""Facial states as a study reads them: per group of readings (a person, a segment, a file), the share of
readings looking at the camera, how far the head was turned, how open the eyes and the mouth were, how often the
brows were raised or lowered against the person's own typical height, and blinks per minute, each with a 95%
interval resampling people (one person: blocks of consecutive readings), as ``study`` does for emotions.

Works on readings (``study.with_participants``) that carry the state columns of ``queries.face_states``;
readings analysed before states existed have them empty and are left out of these measures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fer_core.statistics import stats
from fer_core.vision.states import BROW_MIN_READINGS, BROW_STEP

STATE_COLUMNS = ("yaw", "pitch", "roll", "gaze_yaw", "gaze_pitch", "looking", "eyes_open", "mouth_open", "brow_height")
# what a summary reports, per reading averaged per person: shares (0-1) and degrees
STATE_MEASURES = ("looking", "head_turn", "eyes_open", "mouth_open", "brows_raised", "brows_lowered")
EYES_CLOSED = 0.5  # eyes_open below this: closed
BLINK_MAX_S = 0.5  # a closure longer than this is not a blink (eyes shut, looking down)
BLINK_MIN_FPS = 10.0  # a blink lasts 0.1-0.4 s: only readings 0.1 s apart or closer see one


def with_measures(rows: pd.DataFrame) -> pd.DataFrame:
    """Readings (with participants and state columns) plus ``head_turn`` (the angle between the face's
    direction and the camera's axis) and ``brows_raised`` / ``brows_lowered`` (1 or 0, against the
    participant's median brow height over all their readings; empty below ``BROW_MIN_READINGS``)."""
    out = rows.copy()
    if "yaw" not in out.columns:
        for c in STATE_COLUMNS:
            out[c] = np.nan
    out["looking"] = pd.to_numeric(out["looking"], errors="coerce").astype(float)
    yaw, pitch = np.radians(out["yaw"].astype(float)), np.radians(out["pitch"].astype(float))
    out["head_turn"] = np.degrees(np.arccos(np.clip(np.cos(yaw) * np.cos(pitch), -1, 1)))
    brow = out["brow_height"].astype(float)
    typical = out.groupby("participant")["brow_height"].transform("median")
    known = out.groupby("participant")["brow_height"].transform("count") >= BROW_MIN_READINGS
    with np.errstate(invalid="ignore"):  # a missing brow compares as False here and is blanked just below
        raised, lowered = brow > typical + BROW_STEP, brow < typical - BROW_STEP
    out["brows_raised"] = np.where(known & brow.notna(), raised.astype(float), np.nan)
    out["brows_lowered"] = np.where(known & brow.notna(), lowered.astype(float), np.nan)
    return out


def blinks(rows: pd.DataFrame) -> tuple[int, float] | None:
    """(blinks, minutes watched) over the readings of each participant in each file: a blink is a run of
    closed-eye readings no longer than ``BLINK_MAX_S`` with open eyes just before and after it. None when the
    readings are too far apart to see a blink (fewer than ``BLINK_MIN_FPS`` a second) or there are none."""
    count, seconds, gaps = 0, 0.0, []
    for _, g in rows.dropna(subset=["eyes_open"]).groupby(["participant", "media_id"]):
        t = g["t_s"].to_numpy(float)
        order = np.argsort(t)
        t, closed = t[order], (g["eyes_open"].to_numpy(float) < EYES_CLOSED)[order]
        if len(t) < 3:
            continue
        step = float(np.median(np.diff(t)))
        gaps.append(step)
        seconds += t[-1] - t[0] + step
        i = 0
        while i < len(t):
            if closed[i]:
                j = i
                while j + 1 < len(t) and closed[j + 1]:
                    j += 1
                if i > 0 and j + 1 < len(t) and t[j] - t[i] + step <= BLINK_MAX_S:
                    count += 1
                i = j + 1
            else:
                i += 1
    if not gaps or np.median(gaps) > 1 / BLINK_MIN_FPS + 1e-6 or seconds <= 0:
        return None
    return count, seconds / 60.0


def _units(rows: pd.DataFrame, column: str) -> np.ndarray:
    """Each participant's mean of ``column`` (their readings with a value), or with one participant the means
    of blocks of their consecutive readings."""
    part = rows.dropna(subset=[column])
    if part.empty:
        return np.zeros(0)
    if part["participant"].nunique() >= 2:
        return part.groupby("participant")[column].mean().to_numpy()
    blocks = [
        stats.block_means(g[[column]].to_numpy(float), g["t_s"].to_numpy(float))[:, 0]
        for _, g in part.sort_values(["media_id", "t_s"]).groupby("media_id")
    ]
    return np.concatenate(blocks)


def estimate(rows: pd.DataFrame, *, seed: int = 0) -> dict:
    """A group's facial states: {"readings_with_states", "missing" {why: readings}, each measure as
    {"value", "ci95": [low, high]} (None where no reading has it), "blinks_per_min" (None when the sampling
    cannot see blinks) and "blink_note"}."""
    rows = with_measures(rows) if "head_turn" not in rows.columns else rows
    out: dict = {"readings_with_states": int(rows["yaw"].notna().sum())}
    if "states_missing" in rows.columns:
        out["missing"] = {str(k): int(v) for k, v in rows["states_missing"].dropna().value_counts().items()}
    for m in STATE_MEASURES:
        units = _units(rows, m)
        if not len(units):
            out[m] = {"value": None, "ci95": [None, None]}
            continue
        value, low, high = stats.mean_ci(units[:, None], seed=seed, blocks=rows["participant"].nunique() == 1)
        top = 180.0 if m == "head_turn" else 1.0  # degrees, else a share or an opening of 0 to 1
        low, high = np.clip(low, 0.0, top), np.clip(high, 0.0, top)  # Student's t can overrun the range
        out[m] = {"value": _r(value[0]), "ci95": [_r(low[0]), _r(high[0])]}
    seen = blinks(rows)
    out["blinks_per_min"] = None if seen is None else round(seen[0] / seen[1], 2)
    out["blink_note"] = (
        None
        if seen is not None
        else f"blinks need at least {BLINK_MIN_FPS:g} analysed frames a second (FER_FPS={BLINK_MIN_FPS:g})"
    )
    return out


def compare(a: pd.DataFrame, b: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Two groups' facial states side by side, as ``study.compare`` does emotions: per measure each group's
    value, the difference, its 95% interval and the permutation p-value (units: people, or blocks of one
    person's readings)."""
    a, b = with_measures(a), with_measures(b)
    rows = []
    for m in STATE_MEASURES:
        ua, ub = _units(a, m), _units(b, m)
        if not len(ua) or not len(ub):
            rows.append({"measure": m, "a": np.nan, "b": np.nan, "difference": np.nan, "low": np.nan,
                         "high": np.nan, "p": np.nan})  # fmt: skip
            continue
        res = stats.compare(ua[:, None], ub[:, None], seed=seed)
        rows.append(
            {
                "measure": m,
                "a": ua.mean(),
                "b": ub.mean(),
                "difference": float(res["difference"][0]),
                "low": float(res["low"][0]),
                "high": float(res["high"][0]),
                "p": float(res["p"][0]),
            }
        )
    return pd.DataFrame(rows)


def timeline(rows: pd.DataFrame, *, bin_s: float) -> pd.DataFrame:
    """Facial states over a video, in bins of ``bin_s`` seconds (mean over the people on screen): long rows
    of t_s, measure (yaw, pitch in degrees; looking, eyes_open, mouth_open from 0 to 1), value."""
    part = rows.dropna(subset=["yaw"])
    if part.empty:
        return pd.DataFrame(columns=["t_s", "measure", "value"])
    part = part.assign(t_s=(part["t_s"] // bin_s) * bin_s, looking=part["looking"].astype(float))
    means = part.groupby("t_s")[["yaw", "pitch", "looking", "eyes_open", "mouth_open"]].mean().reset_index()
    return means.melt(id_vars="t_s", var_name="measure", value_name="value")


def _r(v, digits: int = 4):
    return None if v is None or not np.isfinite(v) else round(float(v), digits)

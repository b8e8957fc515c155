"""A session as a study: participants, segments, baselines, summaries with intervals, and group comparisons.

Everything here works on the frames ``storage.queries`` returns (``readings``, ``markers``, ``people``) and
knows nothing of the database or the pages.

- A *participant* is a person seen (a face track in a video, a face in a photo), or, where people were given
  the same name in a session, all of them together (that is how tracks and files are merged).
- A participant's *share* of an emotion is their mean probability of it over their readings; a group's share
  is the mean of its participants' shares, so that everyone counts once however long they are on screen.
- With a *baseline*, each participant's baseline mean (their readings in a baseline segment, or in their
  first N seconds on screen) is subtracted from their readings first (as py-feat's ``Fex.baseline`` does):
  the results are differences, which can be negative, not shares.
- Intervals and tests resample participants (``fer_core.statistics.stats``); one participant alone is resampled by blocks
  of consecutive readings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fer_core.constants import EMOTIONS, NEGATIVE, POSITIVE
from fer_core.statistics import stats

MEASURES = (*EMOTIONS, "satisfaction")
BY = ("session", "person", "segment", "file")


@dataclass(frozen=True)
class Baseline:
    """A per-participant baseline: the readings in segments labelled ``segment``, or the first ``first_s``
    seconds of each participant's time on screen."""

    segment: str | None = None
    first_s: float | None = None

    def __post_init__(self):
        if (self.segment is None) == (self.first_s is None):
            raise ValueError("a baseline is either a segment's label or a number of first seconds")
        if self.first_s is not None and self.first_s <= 0:
            raise ValueError("the baseline's first seconds must be more than 0")

    def describe(self) -> str:
        if self.segment is not None:
            return f"each person's mean in the segments labelled “{self.segment}”"
        return f"each person's mean over their first {self.first_s:g} s on screen"


def satisfaction(frame: pd.DataFrame) -> pd.Series:
    """P(happy) + P(surprise) - P(angry) - P(disgust) - P(fear) - P(sad), row by row."""
    return frame[list(POSITIVE)].sum(axis=1) - frame[list(NEGATIVE)].sum(axis=1)


def with_participants(readings: pd.DataFrame) -> pd.DataFrame:
    """``readings`` with a ``participant`` column: the person's name, else "FILE #k" (the k-th person to appear
    in the file; "FILE (file ID) #k" where two files share a name), and ``satisfaction`` per reading."""
    out = readings.copy()
    if out.empty:
        return out.assign(participant=pd.Series(dtype=str), satisfaction=pd.Series(dtype=float))
    first = out.groupby(["media_id", "person"])["t_s"].min().reset_index().sort_values(["media_id", "t_s", "person"])
    first["k"] = first.groupby("media_id").cumcount() + 1
    out = out.merge(first[["media_id", "person", "k"]], on=["media_id", "person"], how="left")
    # two files of a session may share a name (two cameras' IMG_0001.jpg): their people stay apart
    shared = out.groupby("file")["media_id"].transform("nunique") > 1
    label = (
        out["file"].astype(str).where(~shared, out["file"].astype(str) + " (file " + out["media_id"].astype(str) + ")")
    )
    default = label + " #" + out["k"].astype(str)
    out["participant"] = out["name"].where(out["name"].notna() & (out["name"].astype(str) != ""), default)
    out["satisfaction"] = satisfaction(out)
    return out.drop(columns="k")


def segments(markers: pd.DataFrame) -> pd.DataFrame:
    """The markers that span time (``end_s`` set)."""
    if markers.empty:
        return markers
    return markers[markers["end_s"].notna()].reset_index(drop=True)


def in_segment(readings: pd.DataFrame, segment) -> pd.DataFrame:
    """The readings of a segment's file from its start up to (not including) its end."""
    return readings[
        (readings["media_id"] == segment.media_id)
        & (readings["t_s"] >= segment.start_s)
        & (readings["t_s"] < segment.end_s)
    ]


def subtract_baseline(readings: pd.DataFrame, markers: pd.DataFrame, baseline: Baseline) -> tuple[pd.DataFrame, int]:
    """Readings (with participants) minus each participant's baseline mean, per measure; participants without
    a baseline reading are left out. Returns (the corrected readings, participants left out)."""
    if baseline.segment is not None:
        segs = segments(markers)
        segs = segs[segs["label"] == baseline.segment]
        parts = [in_segment(readings, s) for s in segs.itertuples()]
        base_rows = pd.concat(parts) if parts else readings.iloc[0:0]
    else:
        # per file: a participant merged over two files starts again in each
        start = readings.groupby(["participant", "media_id"])["t_s"].transform("min")
        base_rows = readings[readings["t_s"] < start + baseline.first_s]
    base = base_rows.groupby("participant")[list(MEASURES)].mean()
    kept = readings[readings["participant"].isin(base.index)].copy()
    kept[list(MEASURES)] = kept[list(MEASURES)].to_numpy() - base.loc[kept["participant"], list(MEASURES)].to_numpy()
    return kept, int(readings["participant"].nunique() - len(base))


def units(rows: pd.DataFrame) -> np.ndarray:
    """The independent units of a group of readings, one row per unit, one column per measure: each
    participant's mean, or with one participant only, the means of blocks of their consecutive readings."""
    if rows.empty:
        return np.zeros((0, len(MEASURES)))
    if rows["participant"].nunique() >= 2:
        return rows.groupby("participant")[list(MEASURES)].mean().to_numpy()
    ordered = rows.sort_values(["media_id", "t_s"])
    # blocks never straddle two files of a merged participant
    parts = [
        stats.block_means(g[list(MEASURES)].to_numpy(), g["t_s"].to_numpy()) for _, g in ordered.groupby("media_id")
    ]
    return np.concatenate(parts)


FLOOR = np.array([0.0] * len(EMOTIONS) + [-1.0])  # per measure of MEASURES: the emotions' shares, satisfaction
CEILING = np.ones(len(EMOTIONS) + 1)


def estimate(rows: pd.DataFrame, *, seed: int = 0, fixer=None, bounded: bool = True) -> dict:
    """A group's participants, readings, value per measure (mean over participants of their mean) and
    95% interval of each. With ``fixer`` (a ``quantify.Corrector``) and at least ``quantify.MIN_READINGS``
    readings, the values and intervals are the shares corrected for the models' known confusions (intervals
    resampling people and the reviewed faces), ``corrected`` is True, and the plain means stay in ``raw``."""
    from fer_core.statistics import quantify

    means = rows.groupby("participant")[list(MEASURES)].mean()
    value = means.mean().to_numpy() if len(means) else np.full(len(MEASURES), np.nan)
    u = units(rows)
    _, low, high = stats.mean_ci(u, seed=seed, blocks=len(means) == 1) if len(rows) else (None, value, value)
    if len(rows) and bounded:  # a share lies in [0, 1], satisfaction in [-1, 1]: so do their intervals (t can overrun)
        low, high = np.clip(low, FLOOR, CEILING), np.clip(high, FLOOR, CEILING)
    raw = {"value": dict(zip(MEASURES, value)), "low": dict(zip(MEASURES, low)), "high": dict(zip(MEASURES, high))}
    out = {"people": int(len(means)), "readings": int(len(rows)), **raw, "raw": raw, "corrected": False}
    if fixer is not None and len(rows) >= quantify.MIN_READINGS:
        out.update(fixer.of_units(u[:, : len(EMOTIONS)]), corrected=True)
    return out


def _r(v, digits: int = 4):
    return None if v is None or not np.isfinite(v) else round(float(v), digits)


def _states(rows: pd.DataFrame, seed: int) -> dict | None:
    """The group's facial states (``attention.estimate``) when the readings carry them."""
    from fer_core.statistics import attention

    return attention.estimate(rows, seed=seed) if "yaw" in rows.columns else None


def _record(est: dict, *, delta: bool) -> dict:
    values = {e: _r(est["value"][e]) for e in EMOTIONS}
    record = {
        "people": est["people"],
        "readings": est["readings"],
        ("delta" if delta else "shares"): values,
        "ci95": {m: [_r(est["low"][m]), _r(est["high"][m])] for m in MEASURES},
        "satisfaction": _r(est["value"]["satisfaction"]),
    }
    if not delta:
        raw = est.get("raw", est)
        record["corrected"] = bool(est.get("corrected"))
        record["raw_shares"] = {e: _r(raw["value"][e]) for e in EMOTIONS}
        record["raw_ci95"] = {m: [_r(raw["low"][m]), _r(raw["high"][m])] for m in MEASURES}
    return record


def summary(
    readings: pd.DataFrame,
    markers: pd.DataFrame,
    *,
    by: str,
    baseline: Baseline | None = None,
    seed: int = 0,
    fixer=None,
) -> list[dict]:
    """One record for the whole session, or per participant, segment or file: {"file", "person" | "segment"
    (+ "start_s", "end_s"),
    "people", "readings", "shares" (or "delta" with a baseline), "ci95" {measure: [low, high]},
    "satisfaction"}; without a baseline also "corrected" (the shares are corrected by ``fixer``, see
    ``estimate``), "raw_shares" and "raw_ci95" (the plain means). ``readings`` as from ``queries.readings``,
    ``markers`` from ``queries.markers``. Differences from a baseline are never corrected."""
    if by not in BY:
        raise ValueError(f"by must be one of {BY}; received {by!r}")
    rows = with_participants(readings)
    if "yaw" in rows.columns and len(rows):
        from fer_core.statistics import attention

        rows = attention.with_measures(rows)  # brows against each person's own height over the whole session
    left_out = 0
    if baseline is not None and not rows.empty:
        rows, left_out = subtract_baseline(rows, markers, baseline)
    delta = baseline is not None
    fixer = None if delta else fixer
    out = []

    def record(part: pd.DataFrame) -> dict:
        r = _record(estimate(part, seed=seed, fixer=fixer, bounded=not delta), delta=delta)
        states = _states(part, seed)
        return {**r, "states": states} if states is not None else r

    if by == "session":
        out.append({"file": ", ".join(dict.fromkeys(rows["file"])) if len(rows) else "", **record(rows)})
    elif by == "person":
        for name, part in rows.groupby("participant", sort=False):
            files = ", ".join(dict.fromkeys(part["file"]))
            out.append({"file": files, "person": name, **record(part)})
    elif by == "file":
        for _, part in rows.groupby("media_id", sort=True):
            out.append({"file": part["file"].iloc[0], **record(part)})
    else:
        for s in segments(markers).itertuples():
            part = in_segment(rows, s)
            head = {"file": s.file, "segment": s.label, "start_s": s.start_s, "end_s": s.end_s}
            out.append({**head, **record(part)})
    if delta:
        for r in out:
            r["left_out_without_baseline"] = left_out
    return out


def compare(a: pd.DataFrame, b: pd.DataFrame, *, seed: int = 0, fixer=None) -> pd.DataFrame:
    """Two groups of readings (with participants) side by side: one row per measure with each group's value,
    the difference (a - b), its 95% interval and the permutation test's p-value, and the p-value of
    "they differ in any emotion" in ``attrs["p_any"]``. With ``fixer`` (a ``quantify.Corrector``) and at least
    ``quantify.MIN_READINGS`` readings in each group, all of these are on the corrected shares
    (``attrs["corrected"]``).

    Units are participants, unless a group has one participant only: then both groups are compared by
    blocks of consecutive readings."""
    from fer_core.statistics import quantify

    by_people = a["participant"].nunique() >= 2 and b["participant"].nunique() >= 2
    if by_people:
        ua, ub = units(a), units(b)
    else:
        ua, ub = (np.concatenate([units(g) for _, g in x.groupby("participant")]) for x in (a, b))
    value_a = a.groupby("participant")[list(MEASURES)].mean().mean().to_numpy()
    value_b = b.groupby("participant")[list(MEASURES)].mean().mean().to_numpy()
    corrected = fixer is not None and min(len(a), len(b)) >= quantify.MIN_READINGS
    if corrected:
        k = len(EMOTIONS)
        res = fixer.compare(ua[:, :k], ub[:, :k], seed=seed)
        value_a, value_b = fixer.measures(ua[:, :k]), fixer.measures(ub[:, :k])
    else:
        res = stats.compare(ua, ub, seed=seed)
    table = pd.DataFrame(
        {
            "measure": list(MEASURES),
            "a": value_a,
            "b": value_b,
            "difference": value_a - value_b,
            "low": res["low"],
            "high": res["high"],
            "p": res["p"],
        }
    )
    table.attrs.update(
        p_any=res["p_any"],
        units="people" if by_people else "blocks of consecutive readings",
        people_a=int(a["participant"].nunique()),
        people_b=int(b["participant"].nunique()),
        corrected=corrected,
    )
    return table


# Below this many people in a group, a comparison's intervals are wide and its p-values rough (docs/study.md).
FEW_PEOPLE = 10


def few_people_warning(people_a: int, people_b: int) -> str:
    """The sentence that goes with a comparison of groups of fewer than ``FEW_PEOPLE`` people."""
    words = (
        f"A has {people_a} {'person' if people_a == 1 else 'people'} and B {people_b}: with fewer than "
        f"{FEW_PEOPLE} people in a group, intervals are wide and p-values rough, so read them as a first look, "
        "not as proof."
    )
    if min(people_a, people_b) >= 2 and stats.smallest_p(people_a, people_b) >= 0.05:
        words += f" With {people_a} and {people_b} people no difference can reach p < 0.05, whatever its size."
    return words


def key_moments(rows: pd.DataFrame, *, n: int = 3) -> pd.DataFrame:
    """The ``n`` most positive and ``n`` most negative readings (by satisfaction) of a group, with ``moment``
    naming what each is: "most positive" / "most negative", or "least negative" / "least positive" when the
    group's readings are all on one side (its best moment of a gloomy video is not a positive one)."""
    if rows.empty:
        return rows.assign(moment=pd.Series(dtype=str))
    top = rows.nlargest(n, "satisfaction")
    top = top.assign(moment=np.where(top["satisfaction"] > 0, "most positive", "least negative"))
    low = rows.nsmallest(n, "satisfaction")
    low = low.assign(moment=np.where(low["satisfaction"] < 0, "most negative", "least positive"))
    return pd.concat([top, low[~low["detection_id"].isin(top["detection_id"])]]).reset_index(drop=True)

"""Groups of readings as the pages, the CLI and the exports show them: a session's summary by person, segment
or file, two groups compared, emotion distributions per session and over time. Each share is corrected for
the models' known confusions where the group's population has enough reviewed faces (``corrections``), and
says so in words; ``correct=False`` gives the raw mean probabilities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from fer_core.constants import OPINIONS
from fer_core.statistics import corrections, quantify, roles, study
from fer_core.statistics.corrections import RAW_WORDS
from fer_core.storage import queries

TOO_FEW = f"{RAW_WORDS}: fewer than {quantify.MIN_READINGS} readings to correct"


def session_summary(
    session_id: int,
    *,
    by: str,
    engine: Engine,
    model: str = "ensemble",
    baseline=None,
    seed: int = 0,
    correct: bool = True,
    everyone: bool = False,
) -> list[dict]:
    """``study.summary`` of a session's readings as a whole or by person, segment or file, the shares corrected
    where its population has enough reviewed faces (``correct``); each record says how in ``correction``.
    Participants only, unless ``everyone`` (``roles``); by person, everyone but the excluded, each with their
    ``role``."""
    readings = counted_readings(engine, session_id, model=model, everyone=everyone or by == "person")
    marks = queries.markers(engine, session_id=session_id)
    fixer, words = corrections.corrector(engine, session_id, model) if correct else (None, RAW_WORDS)
    records = study.summary(readings, marks, by=by, baseline=baseline, seed=seed, fixer=fixer)
    if by == "person" and len(readings):
        role = study.with_participants(readings).groupby("participant")["role"].first()
        for r in records:
            r["role"] = role.get(r["person"])
    for r in records:
        if baseline is not None:
            r["correction"] = "differences from each person's baseline (not corrected)"
        elif fixer is not None and not r["corrected"]:
            r["correction"] = TOO_FEW
        else:
            r["correction"] = words
    return records


def counted_readings(engine: Engine, session_id: int, *, model: str = "ensemble", everyone: bool = False):
    """A session's readings with their facial states and roles, those a headline counts (``roles.counted``)."""
    rows = queries.readings(engine, session_id=session_id, model=model)
    return with_states(engine, session_id, roles.counted(roles.with_roles(rows), everyone=everyone))


def with_states(engine: Engine, session_id: int, readings: pd.DataFrame) -> pd.DataFrame:
    """``readings`` with each reading's facial states (``queries.face_states``)."""
    if readings.empty:
        return readings
    return readings.merge(queries.face_states(engine, session_id=session_id), on="detection_id", how="left")


GROUP_KINDS = ("sessions", "tags", "segments", "people")


def group_sessions(kind: str, value, *, engine: Engine, session_id: int | None = None) -> list[int]:
    """The sessions a group's readings come from."""
    if kind == "sessions":
        return [int(value)]
    if kind == "tags":
        return queries.sessions_with_tag(engine, tag=value)
    return [int(session_id)]


def correction_available(kind: str, values, *, engine: Engine, session_id: int | None = None, model="ensemble"):
    """(whether the shares of these groups can be corrected, the sentence that says so or why not): a
    correction needs enough reviewed faces of the groups' population (``corrections.corrector``)."""
    sessions = {s for v in values for s in group_sessions(kind, v, engine=engine, session_id=session_id)}
    fixer, words = corrections.corrector(engine, sessions, model, draws=0)
    return fixer is not None, words


def group_readings(
    kind: str,
    value,
    *,
    engine: Engine,
    session_id: int | None = None,
    model: str = "ensemble",
    everyone: bool = False,
):
    """The readings (with participants) of one group to compare: a session (``value`` its id), a tag (every
    session with it), the segments of ``session_id`` with the label ``value``, or the participant ``value``
    of ``session_id``. Across sessions a participant is named with their session, so that two sessions' "P1"
    stay two people. Participants' readings only unless ``everyone`` (a person compared is taken whatever
    their role, unless excluded)."""
    if kind not in GROUP_KINDS:
        raise ValueError(f"kind must be one of {GROUP_KINDS}; received {kind!r}")
    if kind in ("sessions", "tags"):
        parts = []
        for sid in group_sessions(kind, value, engine=engine):
            rows = study.with_participants(counted_readings(engine, sid, model=model, everyone=everyone))
            parts.append(rows.assign(participant=f"{sid}: " + rows["participant"].astype(str)))
        return pd.concat(parts, ignore_index=True) if parts else study.with_participants(pd.DataFrame())
    rows = study.with_participants(
        counted_readings(engine, session_id, model=model, everyone=everyone or kind == "people")
    )
    if kind == "people":
        return rows[rows["participant"] == value]
    segs = study.segments(queries.markers(engine, session_id=session_id))
    parts = [study.in_segment(rows, s) for s in segs[segs["label"] == value].itertuples()]
    return pd.concat(parts) if parts else rows.iloc[0:0]


def compare_groups(
    kind: str,
    a,
    b,
    *,
    engine: Engine,
    session_id: int | None = None,
    model: str = "ensemble",
    seed: int = 0,
    correct: bool = True,
    everyone: bool = False,
):
    """``study.compare`` of two groups (see ``group_readings``: participants only unless ``everyone``), on
    shares corrected with the reviewed faces of both groups' populations where there are enough
    (``attrs["correction"]`` says which); None when either group has no reading."""
    ra = group_readings(kind, a, engine=engine, session_id=session_id, model=model, everyone=everyone)
    rb = group_readings(kind, b, engine=engine, session_id=session_id, model=model, everyone=everyone)
    if ra.empty or rb.empty:
        return None
    fixer, words = None, RAW_WORDS
    if correct:
        sessions = {*group_sessions(kind, a, engine=engine, session_id=session_id)}
        sessions |= {*group_sessions(kind, b, engine=engine, session_id=session_id)}
        fixer, words = corrections.corrector(engine, sessions, model)
    table = study.compare(ra, rb, seed=seed, fixer=fixer)
    table.attrs["counts"] = "everyone" if everyone else "participants"
    table.attrs["correction"] = words if table.attrs["corrected"] or fixer is None else TOO_FEW
    return table


def compare_states(
    kind: str, a, b, *, engine: Engine, session_id: int | None = None, seed: int = 0, everyone: bool = False
):
    """``attention.compare`` of two groups' facial states (see ``group_readings``); None when either group has
    no reading."""
    from fer_core.statistics import attention

    ra = group_readings(kind, a, engine=engine, session_id=session_id, everyone=everyone)
    rb = group_readings(kind, b, engine=engine, session_id=session_id, everyone=everyone)
    if ra.empty or rb.empty:
        return None
    return attention.compare(ra, rb, seed=seed)


def _corrected_column(
    frame: pd.DataFrame, fixers: dict, *, keys: list[str], value: str, readings: pd.Series
) -> pd.Series:
    """Per row of a long distribution, its group's corrected share (NaN where the model has no corrector or the
    group fewer than ``quantify.MIN_READINGS`` readings)."""
    out = pd.Series(np.nan, index=frame.index)
    enough = readings >= quantify.MIN_READINGS
    for model, fixer in fixers.items():
        rows = frame[(frame["model"] == model) & enough]
        if fixer is not None and len(rows):
            out[rows.index] = corrections.correct_shares(rows, fixer, keys=keys, value=value)
    return out


def distribution(
    engine: Engine,
    *,
    session_id: int | None = None,
    per: str = "reading",
    correct: bool = True,
    everyone: bool = True,
):
    """``queries.emotion_distribution`` (per person: participants only unless ``everyone``) with
    ``corrected_share``: each session's mean-probability shares corrected with its own population's reviewed
    faces (NaN where there are too few, or ``correct`` is off); ``attrs["correction"]`` maps each session to
    the words that say what was done."""
    dist = queries.emotion_distribution(engine, session_id=session_id, per=per, everyone=everyone)
    dist["corrected_share"] = np.nan
    words = {}
    if dist.empty or not correct:
        dist.attrs["correction"] = {int(s): RAW_WORDS for s in dist["session_id"].unique()}
        return dist
    faces = queries.emotion_distribution(engine, session_id=session_id, per="reading")
    readings = faces.groupby(["session_id", "model"])["faces"].sum()
    for sid, part in dist.groupby("session_id"):
        reviewed = corrections.population_reviews(engine, int(sid))
        fixers, said = {}, RAW_WORDS
        for model in OPINIONS:
            fixers[model], text = corrections.corrector(engine, int(sid), model, reviewed=reviewed, draws=0)
            said = text if model == "ensemble" else said
        n = pd.Series([readings.get((sid, m), 0) for m in part["model"]], index=part.index)
        dist.loc[part.index, "corrected_share"] = _corrected_column(
            part, fixers, keys=["model"], value="mean_prob", readings=n
        )
        words[int(sid)] = said
    dist.attrs["correction"] = words
    return dist


def over_time(engine: Engine, *, correct: bool = True, **filters) -> pd.DataFrame:
    """``queries.distribution_over_time`` (same ``filters``, ``everyone`` among them) with ``share`` corrected with the reviewed faces of
    the sessions it covers (their tags' populations), ``raw_mean_share`` the raw one and ``corrected`` saying
    which each row is; ``attrs["correction"]`` the words."""
    trend = queries.distribution_over_time(engine, **filters).rename(columns={"share": "raw_mean_share"})
    trend["share"], trend["corrected"] = trend["raw_mean_share"], False
    trend.attrs["correction"] = RAW_WORDS
    if trend.empty or not correct:
        return trend
    tags = filters.get("tags")
    sessions = (
        sorted({s for t in tags for s in queries.sessions_with_tag(engine, tag=t)})
        if tags
        else [int(s) for s in queries.sessions_overview(engine)["id"]]
    )
    reviewed = corrections.population_reviews(engine, sessions)
    fixers = {}
    for model in trend["model"].unique():
        fixers[model], words = corrections.corrector(engine, sessions, model, reviewed=reviewed, draws=0)
    if filters.get("per", "reading") == "person":
        counts = queries.distribution_over_time(engine, **{**filters, "per": "reading"})
        readings = counts.groupby(["period", "model"])["faces"].first()
        n = pd.Series([readings.get((p, m), 0) for p, m in zip(trend["period"], trend["model"])], index=trend.index)
    else:
        n = trend["faces"]
    fixed = _corrected_column(trend, fixers, keys=["period", "model"], value="raw_mean_share", readings=n)
    trend["corrected"] = fixed.notna()
    trend["share"] = fixed.fillna(trend["raw_mean_share"])
    if trend["corrected"].any():
        trend.attrs["correction"] = words.replace("this population", "the sessions shown and their tags")
    elif any(f is not None for f in fixers.values()):
        trend.attrs["correction"] = TOO_FEW
    else:
        trend.attrs["correction"] = words
    return trend

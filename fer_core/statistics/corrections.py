"""Which faces correct a group's emotion shares, and in which words the pages say so.

The correction (``fer_core.statistics.quantify``, PACC) needs the models' behaviour on faces like the group's.
``benchmarks/shares.py`` measured that the validation sets do not serve: learnt on the other validation sets,
the correction is worse than the raw mean on every set (the models' confusions differ from one kind of face to
another), while learnt on reviewed faces of the same population it gains more the more faces are reviewed.
So a session's shares are corrected with the reviewed faces of its population (the sessions sharing one of
its tags, and the session itself) once there are ``MIN_REVIEWED`` of them with an emotion; else they stay the
raw mean, and the pages say why.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from fer_core.constants import EMOTIONS
from fer_core.statistics import quantify
from fer_core.storage import queries

MIN_REVIEWED = 50  # benchmarks/shares.py: from 50 reviewed faces the corrected error is at most the raw one


RAW_WORDS = "raw mean probabilities"


def population_sessions(engine: Engine, session_ids: int | Iterable[int]) -> list[int]:
    """The sessions whose reviewed faces correct ``session_ids``: themselves and every session sharing one of
    their tags."""
    ids = {int(session_ids)} if isinstance(session_ids, (int, np.integer)) else {int(s) for s in session_ids}
    for sid in sorted(ids):
        for tag in (queries.session_details(engine, session_id=sid) or {}).get("tags") or []:
            ids.update(queries.sessions_with_tag(engine, tag=tag))
    return sorted(ids)


def population_reviews(engine: Engine, session_ids: int | Iterable[int]) -> pd.DataFrame:
    """The reviewed faces (with an emotion) of ``session_ids``' population (``population_sessions``), with
    each model's probabilities (``p_<model>_<emotion>``)."""
    return queries.reviewed_probabilities(engine, session_ids=population_sessions(engine, session_ids))


_built: OrderedDict[tuple, quantify.Corrector] = OrderedDict()  # the last correctors built, by what they learnt


def _cached(probs: np.ndarray, truth: np.ndarray, draws: int) -> quantify.Corrector:
    """One corrector per distinct set of reviewed faces: its bootstrap draws cost more than a page's reads."""
    key = (hashlib.blake2b(probs.tobytes() + truth.tobytes(), digest_size=16).digest(), draws)
    if key not in _built:
        _built[key] = quantify.Corrector(quantify.Reference.of(probs, truth), draws=draws)
        while len(_built) > 32:
            _built.popitem(last=False)
    _built.move_to_end(key)
    return _built[key]


def corrector(
    engine: Engine,
    session_ids: int | Iterable[int],
    model: str,
    *,
    reviewed: pd.DataFrame | None = None,
    draws: int = 200,
) -> tuple[quantify.Corrector | None, str]:
    """The corrector for ``model`` learnt on the population of ``session_ids`` and the words that say what was
    done (``reviewed``: ``population_reviews`` already read, for a caller that corrects several models;
    ``draws`` 0 where no interval is shown)."""
    reviewed = population_reviews(engine, session_ids) if reviewed is None else reviewed
    columns = [f"p_{model}_{e}" for e in EMOTIONS]
    if all(c in reviewed.columns for c in columns):
        reviewed = reviewed.dropna(subset=columns)
    n = int(len(reviewed))
    if n < MIN_REVIEWED:
        return None, (
            f"{RAW_WORDS}, not corrected: the models' confusions are corrected with reviewed faces of "
            f"the same population, and this one has {n} (at least {MIN_REVIEWED} are needed; Review page)"
        )
    y = reviewed["review"].map({e: i for i, e in enumerate(EMOTIONS)}).to_numpy()
    fixer = _cached(np.ascontiguousarray(reviewed[columns].to_numpy(float)), y.astype(np.int64), draws)
    return fixer, f"corrected for the models' known confusions, learnt on {n} reviewed faces of this population"


def correct_shares(frame: pd.DataFrame, fixer: quantify.Corrector, *, keys: list[str], value: str) -> pd.Series:
    """The corrected share of each row of a long frame (one row per group and emotion, ``keys`` naming the
    group, ``value`` its raw mean share): each group's 7 raw shares corrected together."""
    out = pd.Series(np.nan, index=frame.index)
    for _, rows in frame.groupby(keys, sort=False):
        raw = rows.set_index("emotion")[value].reindex(list(EMOTIONS)).fillna(0.0).to_numpy(float)
        if raw.sum() <= 0:
            continue
        fixed = dict(zip(EMOTIONS, quantify.simplex_solve(fixer.point[1], raw / raw.sum())))
        out[rows.index] = rows["emotion"].map(fixed).to_numpy(float)
    return out

"""Which faces correct a group's emotion shares, and in which words the pages say so.

The correction (``fer_core.quantify``, PACC) needs the models' behaviour on faces like the group's.
``benchmarks/shares.py`` measured that the validation sets do not serve: learnt on the other validation sets,
the correction is worse than the raw mean on every set (the models' confusions differ from one kind of face to
another), while learnt on reviewed faces of the same population it gains more the more faces are reviewed.
So a session's shares are corrected with the reviewed faces of its population (the sessions sharing one of
its tags, and the session itself) once there are ``MIN_REVIEWED`` of them with an emotion; else they stay the
raw mean, and the pages say why.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine

from fer_core import quantify
from fer_core.constants import EMOTIONS
from fer_core.storage import queries

MIN_REVIEWED = 50  # benchmarks/shares.py: from 50 reviewed faces the corrected error is at most the raw one


def population_reviews(engine: Engine, session_id: int) -> pd.DataFrame:
    """The reviewed faces (with an emotion) of the session and of every session sharing one of its tags, with
    each model's probabilities (``p_<model>_<emotion>``)."""
    details = queries.session_details(engine, session_id=session_id) or {}
    ids = {session_id}
    for tag in details.get("tags") or []:
        ids.update(queries.sessions_with_tag(engine, tag=tag))
    parts = [queries.reviewed_faces(engine, session_id=sid) for sid in sorted(ids)]
    reviewed = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    if reviewed is None:
        return pd.DataFrame(columns=["detection_id", "review"])
    reviewed = reviewed[reviewed["review"].isin(EMOTIONS)]
    probs = queries.face_probabilities(engine, detection_ids=[int(d) for d in reviewed["detection_id"]])
    return reviewed.merge(probs, on="detection_id")


def corrector(
    engine: Engine, session_id: int, model: str, *, reviewed: pd.DataFrame | None = None
) -> tuple[quantify.Corrector | None, str]:
    """The session's population corrector for ``model`` and the words that say what was done (``reviewed``:
    ``population_reviews`` already read, for a caller that corrects several models)."""
    reviewed = population_reviews(engine, session_id) if reviewed is None else reviewed
    columns = [f"p_{model}_{e}" for e in EMOTIONS]
    if all(c in reviewed.columns for c in columns):
        reviewed = reviewed.dropna(subset=columns)
    n = int(len(reviewed))
    if n < MIN_REVIEWED:
        return None, (
            f"raw mean probabilities, not corrected: the models' confusions are corrected with reviewed faces of "
            f"the same population, and this one has {n} (at least {MIN_REVIEWED} are needed; Review page)"
        )
    y = reviewed["review"].map({e: i for i, e in enumerate(EMOTIONS)}).to_numpy()
    reference = quantify.Reference.of(reviewed[columns].to_numpy(float), y)
    words = f"corrected for the models' known confusions, learnt on {n} reviewed faces of this population"
    return quantify.Corrector(reference), words

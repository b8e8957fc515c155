"""Who counts: each person seen is a participant, an other (an interviewer, a bystander) or excluded (a face on
a poster or a screen).  Headlines count participants unless asked for everyone; excluded people count nowhere.

A role a user set wins.  Otherwise, in a session without a participant label everyone is a participant; in a
session with one, a person given that label as their name is, and so is each file's most-present person (the
longest track of a video, the only face of a photo); the rest are others until a user says otherwise.
"""

from __future__ import annotations

import pandas as pd

from fer_core.constants import EXCLUDED, OTHER, PARTICIPANT


def with_roles(readings: pd.DataFrame) -> pd.DataFrame:
    """``readings`` (as from ``queries.readings``) with a ``role`` column."""
    out = readings.copy()
    if out.empty:
        return out.assign(role=pd.Series(dtype=str))
    label = out.get("session_participant", pd.Series(None, index=out.index))
    named = out["name"].notna() & (out["name"].astype(str).str.strip() == label.astype(str).str.strip())
    set_ = out["role_set"].where(out["role_set"].notna(), None) if "role_set" in out else pd.Series(None, out.index)
    declared = label.notna() & (label.astype(str).str.strip() != "")
    counts = out.groupby(["media_id", "person"]).size().rename("n").reset_index()
    first = out.groupby(["media_id", "person"])["t_s"].min().rename("t0").reset_index()
    counts = counts.merge(first, on=["media_id", "person"]).sort_values(
        ["media_id", "n", "t0", "person"], ascending=[True, False, True, True]
    )
    top = counts.drop_duplicates("media_id").set_index("media_id")["person"]
    people = counts.groupby("media_id").size()
    kind = out["kind"] if "kind" in out else pd.Series("video", index=out.index)
    is_top = out["person"] == out["media_id"].map(top)
    alone = out["media_id"].map(people) == 1
    most_present = is_top & ((kind != "photo") | alone)
    default = pd.Series(OTHER, index=out.index)
    default[~declared | named | most_present] = PARTICIPANT
    out["role"] = set_.where(set_.notna(), default)
    return out


def counted(readings: pd.DataFrame, *, everyone: bool = False) -> pd.DataFrame:
    """The readings a headline counts: participants' (``everyone``: everybody's but the excluded)."""
    rows = readings if "role" in readings else with_roles(readings)
    keep = rows["role"] != EXCLUDED if everyone else rows["role"] == PARTICIPANT
    return rows[keep]

"""The pages' reads: fer_core's queries, cached for the whole process (every page and browser tab).

A cached answer is keyed by ``queries.data_version``, a cheap stamp that moves whenever any process adds,
finishes or removes sessions, files, results or jobs, so a finished background analysis shows at once.
Pages that edit what the stamp cannot see (a renamed session, new tags) call ``changed()`` after writing.
The Jobs page's progress moves without changing the stamp: its reads are cached for one second only.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fer_core import service
from fer_core.statistics.study import Baseline
from fer_core.storage import queries as Q
from fer_core.storage.queries import SMOOTH_S  # noqa: F401  (the pages' smoothing window)

from resources import get_engine


@st.cache_data(ttl=1.0, show_spinner=False)
def _version() -> tuple:
    return Q.data_version(get_engine())


@st.cache_data(max_entries=512, show_spinner=False)
def _stamped(query: str, version: tuple, args: tuple):
    return getattr(Q, query)(get_engine(), **dict(args))


@st.cache_data(ttl=1.0, max_entries=64, show_spinner=False)
def _live(query: str, args: tuple):
    return getattr(Q, query)(get_engine(), **dict(args))


def _read(query: str, **kwargs):
    args = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
    return _stamped(query, _version(), args)


def changed() -> None:
    """Forget every cached read (call after a write)."""
    st.cache_data.clear()


def totals() -> dict:
    return _read("totals")


def sessions_overview(limit: int | None = None) -> pd.DataFrame:
    return _read("sessions_overview", limit=limit)


def session_details(session_id: int) -> dict | None:
    return _read("session_details", session_id=session_id)


def session_media(session_id: int) -> pd.DataFrame:
    return _read("session_media", session_id=session_id)


def all_tags() -> list[str]:
    return _read("all_tags")


@st.cache_data(max_entries=128, show_spinner=False)
def _corrected(version: tuple, what: str, args: tuple) -> pd.DataFrame:
    return getattr(service, what)(get_engine(), **dict(args))


def emotion_distribution(
    session_id: int | None = None, per: str = "reading", correct: bool = True, everyone: bool = True
) -> pd.DataFrame:
    """``service.distribution``: per session and model, with each session's corrected shares."""
    args = (("correct", correct), ("everyone", everyone), ("per", per), ("session_id", session_id))
    return _corrected(_version(), "distribution", args)


def distribution_over_time(**kwargs) -> pd.DataFrame:
    """``service.over_time``: shares per period, corrected where the sessions shown have enough reviews."""
    args = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()))
    return _corrected(_version(), "over_time", args)


def video_timeline(**kwargs) -> pd.DataFrame:
    return _read("video_timeline", **kwargs)


def face_predictions(*, media_id: int | None = None, session_id: int | None = None) -> pd.DataFrame:
    return _read("face_predictions", media_id=media_id, session_id=session_id)


def disagreements(session_id: int | None = None, limit: int = 24) -> pd.DataFrame:
    return _read("disagreements", session_id=session_id, limit=limit)


def model_agreement(session_id: int | None = None) -> dict:
    return _read("model_agreement", session_id=session_id)


def confidence_histogram(session_id: int | None = None) -> pd.DataFrame:
    return _read("confidence_histogram", session_id=session_id)


def readings(session_id: int, model: str = "ensemble") -> pd.DataFrame:
    return _read("readings", session_id=session_id, model=model)


def face_states(session_id: int) -> pd.DataFrame:
    return _read("face_states", session_id=session_id)


def markers(session_id: int) -> pd.DataFrame:
    return _read("markers", session_id=session_id)


@st.cache_data(max_entries=256, show_spinner="Computing the intervals ...")
def _summary(
    version: tuple,
    session_id: int,
    by: str,
    model: str,
    segment: str | None,
    first_s: float | None,
    correct: bool,
    everyone: bool,
):
    baseline = Baseline(segment=segment, first_s=first_s) if segment is not None or first_s is not None else None
    return service.session_summary(
        session_id, by=by, engine=get_engine(), model=model, baseline=baseline, correct=correct, everyone=everyone
    )


def summary(
    session_id: int,
    *,
    by: str,
    model: str = "ensemble",
    segment=None,
    first_s=None,
    correct: bool = True,
    everyone: bool = False,
) -> list[dict]:
    """``service.session_summary``, bootstrapped once per change of the data."""
    return _summary(_version(), session_id, by, model, segment, first_s, correct, everyone)


def people_roles(session_id: int) -> list[dict]:
    return _people_roles(_version(), session_id)


@st.cache_data(max_entries=64, show_spinner=False)
def _people_roles(version: tuple, session_id: int) -> list[dict]:
    return service.people_roles(session_id, engine=get_engine())


@st.cache_data(max_entries=128, show_spinner="Comparing the groups ...")
def _compare(version: tuple, kind: str, a, b, session_id: int | None, model: str, correct: bool, everyone: bool):
    return service.compare_groups(
        kind, a, b, engine=get_engine(), session_id=session_id, model=model, correct=correct, everyone=everyone
    )


def compare_groups(
    kind: str, a, b, *, session_id: int | None = None, model: str = "ensemble", correct=True, everyone=False
):
    return _compare(_version(), kind, a, b, session_id, model, correct, everyone)


@st.cache_data(max_entries=128, show_spinner=False)
def _correction_available(version: tuple, kind: str, values: tuple, session_id: int | None, model: str):
    return service.correction_available(kind, values, engine=get_engine(), session_id=session_id, model=model)


def correction_available(kind: str, values, *, session_id: int | None = None, model: str = "ensemble"):
    """(can the shares be corrected, the sentence that says so or why not) for these groups' population."""
    return _correction_available(_version(), kind, tuple(values), session_id, model)


@st.cache_data(max_entries=128, show_spinner="Comparing attention ...")
def _compare_states(version: tuple, kind: str, a, b, session_id: int | None):
    return service.compare_states(kind, a, b, engine=get_engine(), session_id=session_id)


def compare_states(kind: str, a, b, *, session_id: int | None = None):
    return _compare_states(_version(), kind, a, b, session_id)


@st.cache_data(max_entries=32, show_spinner="Preparing the video for the browser ...")
def playable_video(stored_path: str, sha256: str | None) -> str:
    return str(service.playable_video(stored_path, sha256=sha256))


def faces_to_review(session_id: int | None = None, tag: str | None = None) -> pd.DataFrame:
    return _read("faces_to_review", session_id=session_id, tag=tag)


@st.cache_data(max_entries=64, show_spinner=False)
def _accuracy(version: tuple, session_id: int | None, tag: str | None) -> dict:
    return service.review_accuracy(engine=get_engine(), session_id=session_id, tag=tag)


def review_accuracy(session_id: int | None = None, tag: str | None = None) -> dict:
    return _accuracy(_version(), session_id, tag)


def adapted_versions() -> pd.DataFrame:
    return _read("adapted_versions")


def job_counts() -> dict[str, int]:
    return _live("job_counts", ())


def jobs_overview(limit: int = 500) -> pd.DataFrame:
    return _live("jobs_overview", (("limit", limit),))

"""Aggregates for the dashboard, computed in SQL (SQLite and PostgreSQL), returned as DataFrames.

Every function takes an Engine (or Connection) and returns a tidy pandas
DataFrame whose emotion names come from ``constants.EMOTIONS``.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from fer_core.constants import EMOTIONS, MODEL_NAMES, OPINIONS, Outcome
from fer_core.storage.db import floor_int
from fer_core.storage.orm import (
    CONFIDENCE_BINS,
    AdaptedVersion,
    AnalysisJob,
    FaceDetection,
    FaceReview,
    FeedbackSession,
    Marker,
    MediaConfidenceBin,
    MediaEmotionSummary,
    MediaFile,
    MediaLabelPair,
    MediaPerson,
    PersonLabel,
    Prediction,
    SessionTag,
    TagAdaptation,
)

P = Prediction
D = FaceDetection
S = FeedbackSession
M = MediaEmotionSummary
LP = MediaLabelPair
CB = MediaConfidenceBin
MP = MediaPerson
# Distributions are per person (each person's mean over their readings, then the mean over people) or per
# reading (every sampled face counts once, so a person weighs by their time on screen).
UNITS = ("person", "reading")
PROBS = [getattr(P, f"p_{e}") for e in EMOTIONS]


def _frame(conn, stmt) -> pd.DataFrame:
    with _connect(conn) as c:
        result = c.execute(stmt)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


class _connect:
    """Use a Connection as is, or open one from an Engine."""

    def __init__(self, bind):
        self.bind, self.conn = bind, None

    def __enter__(self):
        if hasattr(self.bind, "connect") and not hasattr(self.bind, "execute"):
            self.conn = self.bind.connect()
            return self.conn
        return self.bind

    def __exit__(self, *exc):
        if self.conn is not None:
            self.conn.close()


def _tidy_probs(df: pd.DataFrame, id_cols: list[str]) -> pd.DataFrame:
    """Wide mean-probability columns (one per emotion) -> long rows (emotion, share)."""
    out = df.melt(id_vars=id_cols, value_vars=list(EMOTIONS), var_name="emotion", value_name="share")
    out["emotion"] = pd.Categorical(out["emotion"], categories=list(EMOTIONS), ordered=True)
    return out.sort_values(id_cols + ["emotion"]).reset_index(drop=True)


def counted_people(everyone: bool):
    """A condition on media_person's rows: the people a headline counts, as ``statistics.roles`` decides in
    Python (participants; ``everyone``: all but the excluded), in SQL for the aggregates."""
    named_row = and_(PersonLabel.media_id == MP.media_id, PersonLabel.person == MP.person)
    role_set = select(PersonLabel.role).where(named_row).scalar_subquery()
    S2 = aliased(S)  # noqa: N806 (the outer query may join the sessions itself)
    declared = (
        select(S2.id)
        .where(S2.id == MP.session_id, S2.participant.is_not(None), func.trim(S2.participant) != "")
        .exists()
    )
    S3 = aliased(S)  # noqa: N806
    named = (
        select(PersonLabel.id)
        .join(S3, S3.id == PersonLabel.session_id)
        .where(named_row, func.trim(PersonLabel.label) == func.trim(S3.participant))
        .exists()
    )
    O = aliased(MP)  # noqa: N806
    same = and_(O.media_id == MP.media_id, O.model == MP.model)
    beaten = (
        select(O.person)
        .where(
            same,
            or_(
                O.readings > MP.readings,
                and_(
                    O.readings == MP.readings,
                    or_(O.t_first < MP.t_first, and_(O.t_first == MP.t_first, O.person < MP.person)),
                ),
            ),
        )
        .exists()
    )
    crowd = and_(
        select(MediaFile.kind).where(MediaFile.id == MP.media_id).scalar_subquery() == "photo",
        select(func.count()).select_from(O).where(same).scalar_subquery() > 1,
    )
    default = case((or_(~declared, named, and_(~beaten, ~crowd)), "participant"), else_="other")
    role = func.coalesce(role_set, default)
    return role != "excluded" if everyone else role == "participant"


def _people_count(where=None):
    """People seen: each media file's rows of one model (every model of a file has the same people)."""
    other = aliased(MP)
    first_model = select(func.min(other.model)).where(other.media_id == MP.media_id).scalar_subquery()
    stmt = select(func.count()).select_from(MP).where(MP.model == first_model)
    return stmt.where(where) if where is not None else stmt


def totals(bind) -> dict:
    """Counts for the home page: sessions, media files, people seen, face readings ("faces"), first and
    last recording."""
    stmt = select(
        select(func.count()).select_from(S).scalar_subquery().label("sessions"),
        select(func.count())
        .select_from(MediaFile)
        .where(MediaFile.status == Outcome.DONE)
        .scalar_subquery()
        .label("media"),
        _people_count().scalar_subquery().label("people"),
        select(func.count()).select_from(D).scalar_subquery().label("faces"),
        select(func.min(func.coalesce(S.recorded_at, S.created_at))).scalar_subquery().label("first"),
        select(func.max(func.coalesce(S.recorded_at, S.created_at))).scalar_subquery().label("last"),
    )
    return _frame(bind, stmt).iloc[0].to_dict()


def emotion_distribution(
    bind, *, session_id: int | None = None, per: str = "reading", everyone: bool = True
) -> pd.DataFrame:
    """Per session and model: the share of each emotion, by top label and by mean probability.

    ``per="reading"``: every face reading counts once (reads media_emotion_summary). Columns: session_id,
    model, emotion, faces (readings with that top label), label_share, mean_prob.
    ``per="person"``: each person's mean probability over their readings, then the mean over people; the
    label share is the share of people whose highest mean is that emotion (reads media_person). Columns:
    session_id, model, emotion, people (with that top emotion), label_share, mean_prob; participants only
    unless ``everyone`` (``counted_people``). Per reading, everyone seen counts.
    """
    if per not in UNITS:
        raise ValueError(f"per must be one of {UNITS}; received {per!r}")
    if per == "person":
        return _people_distribution(bind, session_id=session_id, everyone=everyone)
    total = func.sum(M.faces)
    stmt = select(
        M.session_id,
        M.model,
        total.label("total"),
        *[func.sum(getattr(M, f"n_{e}")).label(f"n_{e}") for e in EMOTIONS],
        *[(func.sum(getattr(M, f"sum_{e}")) / total).label(e) for e in EMOTIONS],
    ).group_by(M.session_id, M.model)
    if session_id is not None:
        stmt = stmt.where(M.session_id == session_id)
    return _long_distribution(_frame(bind, stmt), count="faces")


def _people_distribution(bind, *, session_id: int | None, everyone: bool = True) -> pd.DataFrame:
    stmt = (
        select(
            MP.session_id,
            MP.model,
            func.count().label("total"),
            *[func.sum(case((MP.top_label == e, 1), else_=0)).label(f"n_{e}") for e in EMOTIONS],
            *[func.avg(getattr(MP, f"mean_{e}")).label(e) for e in EMOTIONS],
        )
        .where(counted_people(everyone))
        .group_by(MP.session_id, MP.model)
    )
    if session_id is not None:
        stmt = stmt.where(MP.session_id == session_id)
    return _long_distribution(_frame(bind, stmt), count="people")


def _long_distribution(df: pd.DataFrame, *, count: str) -> pd.DataFrame:
    """Wide rows (session_id, model, total, n_<emotion> counts, <emotion> mean probabilities) -> one row per
    emotion: session_id, model, emotion, ``count`` (with that top label), label_share, mean_prob."""
    cols = ["session_id", "model", "emotion", count, "label_share", "mean_prob"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    counts = df.melt(
        id_vars=["session_id", "model"], value_vars=[f"n_{e}" for e in EMOTIONS], var_name="emotion", value_name=count
    )
    counts["emotion"] = counts["emotion"].str[2:]
    means = df.melt(
        id_vars=["session_id", "model", "total"], value_vars=list(EMOTIONS), var_name="emotion", value_name="mean_prob"
    )
    out = means.merge(counts, on=["session_id", "model", "emotion"])
    out[count] = out[count].astype(int)
    out["label_share"] = out[count] / out["total"]
    out["mean_prob"] = out["mean_prob"].astype(float)
    out["emotion"] = pd.Categorical(out["emotion"], categories=list(EMOTIONS), ordered=True)
    out = out.sort_values(["session_id", "model", "emotion"]).reset_index(drop=True)
    out["emotion"] = out["emotion"].astype(str)
    return out[cols]


def _period(dialect: str, col, freq: str):
    if freq not in ("day", "week", "month"):
        raise ValueError(f"freq must be day, week or month; received {freq!r}")
    if dialect == "sqlite":
        fmt = {
            "day": func.date(col),
            "month": func.strftime("%Y-%m-01", col),
            # Monday of the week: step back to the previous Monday (SQLite's weekday 0 is Sunday)
            "week": func.date(col, "-6 days", "weekday 1"),
        }
        return fmt[freq]
    return func.date(func.date_trunc(freq, col))


def distribution_over_time(
    bind,
    *,
    freq: str = "week",
    tags: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    model: str | None = None,
    per: str = "reading",
    everyone: bool = True,
) -> pd.DataFrame:
    """Mean emotion probabilities per calendar period (session recording time) and model.

    Filters: sessions with any of ``tags``; recorded between ``start`` and ``end``; one ``model``.
    ``per`` and ``everyone`` as in :func:`emotion_distribution`. Columns: period, model, faces (readings) or people,
    sessions, emotion, share.
    """
    if per not in UNITS:
        raise ValueError(f"per must be one of {UNITS}; received {per!r}")
    dialect = _dialect(bind)
    when = func.coalesce(S.recorded_at, S.created_at)
    period = _period(dialect, when, freq).label("period")
    if per == "person":
        T, count = MP, "people"
        stmt = select(
            period,
            MP.model,
            func.count().label(count),
            func.count(func.distinct(S.id)).label("sessions"),
            *[func.avg(getattr(MP, f"mean_{e}")).label(e) for e in EMOTIONS],
        ).where(counted_people(everyone))
    else:
        T, count, total = M, "faces", func.sum(M.faces)
        stmt = select(
            period,
            M.model,
            total.label(count),
            func.count(func.distinct(S.id)).label("sessions"),
            *[(func.sum(getattr(M, f"sum_{e}")) / total).label(e) for e in EMOTIONS],
        )
    stmt = stmt.select_from(T).join(S, S.id == T.session_id).group_by(period, T.model)
    if tags:
        stmt = stmt.where(S.id.in_(select(SessionTag.session_id).where(SessionTag.tag.in_(tags))))
    if start is not None:
        stmt = stmt.where(when >= start)
    if end is not None:
        stmt = stmt.where(when <= end)
    if model is not None:
        stmt = stmt.where(T.model == model)
    df = _frame(bind, stmt)
    if df.empty:
        return pd.DataFrame(columns=["period", "model", count, "sessions", "emotion", "share"])
    df["period"] = pd.to_datetime(df["period"])
    return _tidy_probs(df, ["period", "model", count, "sessions"])


# Smoothing window along a track: a centred moving average over this many seconds of video (5 readings at the
# default 2 frames/s) made readings more accurate on a clip spliced from labelled faces (benchmarks/smoothing.py).
SMOOTH_S = 2.5


def video_timeline(
    bind, *, media_id: int, bin_s: float = 1.0, model: str = "ensemble", by_track: bool = False, smooth_s: float = 0.0
) -> pd.DataFrame:
    """Mean emotion probabilities of a video in bins of ``bin_s`` seconds (optionally per face track).

    ``smooth_s`` > 0 first smooths each track's readings with a centred moving average over that many
    seconds (the stored readings stay raw). Columns: t_s (bin start), [track], faces, emotion, share.
    """
    if bin_s <= 0:
        raise ValueError(f"bin_s must be positive; received {bin_s}")
    ids = ["t_s"] + (["track"] if by_track else []) + ["faces"]
    if smooth_s > 0:
        rows = _frame(
            bind,
            select(D.t_s, D.track, *[c.label(e) for c, e in zip(PROBS, EMOTIONS)])
            .select_from(P)
            .join(D, D.id == P.detection_id)
            .where(D.media_id == media_id, P.model == model)
            .order_by(D.track, D.t_s),
        )
        if rows.empty:
            return pd.DataFrame(columns=ids + ["emotion", "share"])
        rows = smooth_tracks(rows, window_s=smooth_s)
        rows["bin"] = (rows["t_s"] // bin_s) * bin_s
        keys = ["bin"] + (["track"] if by_track else [])
        df = rows.groupby(keys, dropna=False).agg(faces=("t_s", "size"), **{e: (e, "mean") for e in EMOTIONS})
        df = df.reset_index().rename(columns={"bin": "t_s"})
        return _tidy_probs(df[ids + list(EMOTIONS)], ids)
    bin_col = (floor_int(D.t_s / bin_s, _dialect(bind)) * bin_s).label("t_s")
    keys = [bin_col] + ([D.track] if by_track else [])
    stmt = (
        select(*keys, func.count().label("faces"), *[func.avg(c).label(e) for c, e in zip(PROBS, EMOTIONS)])
        .select_from(P)
        .join(D, D.id == P.detection_id)
        .where(D.media_id == media_id, P.model == model)
        .group_by(*keys)
    )
    df = _frame(bind, stmt)
    if df.empty:
        return pd.DataFrame(columns=ids + ["emotion", "share"])
    return _tidy_probs(df, ids)


def smooth_tracks(rows: pd.DataFrame, *, window_s: float) -> pd.DataFrame:
    """Each track's probabilities (columns named by emotion) as a centred moving average over ``window_s``
    seconds of its readings (rows: t_s, track, emotions); a photo's faces (no track) stay as they are."""
    out = rows.copy()
    for track, part in rows[rows["track"].notna()].groupby("track"):
        timed = part.set_index(pd.to_timedelta(part["t_s"], unit="s"))[list(EMOTIONS)]
        smooth = timed.rolling(pd.Timedelta(seconds=window_s), center=True, min_periods=1).mean()
        out.loc[part.index, list(EMOTIONS)] = smooth.to_numpy()
    return out


def people(
    bind, *, session_id: int | None = None, media_id: int | None = None, model: str = "ensemble"
) -> pd.DataFrame:
    """One row per person seen: media_id, person, readings, t_first, t_last, top_label and the mean
    probability of each emotion (columns named by emotion)."""
    stmt = (
        select(
            MP.media_id,
            MP.person,
            MP.readings,
            MP.t_first,
            MP.t_last,
            MP.top_label,
            *[getattr(MP, f"mean_{e}").label(e) for e in EMOTIONS],
        )
        .where(MP.model == model)
        .order_by(MP.media_id, MP.t_first, MP.person)
    )
    if session_id is not None:
        stmt = stmt.where(MP.session_id == session_id)
    if media_id is not None:
        stmt = stmt.where(MP.media_id == media_id)
    return _frame(bind, stmt)


def readings(bind, *, session_id: int, model: str = "ensemble") -> pd.DataFrame:
    """Every reading of a session by one model, for the study views (fer_core.statistics.study): media_id, file, kind,
    detection_id, frame, t_s, person (media_person's key), name (the person's name, or None), role_set (the role
    a user gave them, or None), session_participant (the session's participant label), x, y, w, h and
    the probability of each emotion (columns named by emotion); ordered by file, person and time."""
    person = func.coalesce(D.track, -D.id)
    stmt = (
        select(
            D.media_id,
            MediaFile.original_name.label("file"),
            MediaFile.kind,
            D.id.label("detection_id"),
            D.frame,
            D.t_s,
            person.label("person"),
            PersonLabel.label.label("name"),
            PersonLabel.role.label("role_set"),
            FeedbackSession.participant.label("session_participant"),
            D.x,
            D.y,
            D.w,
            D.h,
            *[c.label(e) for c, e in zip(PROBS, EMOTIONS)],
        )
        .select_from(P)
        .join(D, D.id == P.detection_id)
        .join(MediaFile, MediaFile.id == D.media_id)
        .join(FeedbackSession, FeedbackSession.id == D.session_id)
        .outerjoin(PersonLabel, and_(PersonLabel.media_id == D.media_id, PersonLabel.person == person))
        .where(D.session_id == session_id, P.model == model)
        .order_by(D.media_id, person, D.t_s)
    )
    return _frame(bind, stmt)


def face_states(bind, *, session_id: int) -> pd.DataFrame:
    """Every reading's facial states in a session (``vision.states``): detection_id, yaw, pitch, roll,
    gaze_yaw, gaze_pitch, looking, eyes_open, mouth_open, brow_height, states_missing (empty for readings
    analysed before states existed)."""
    stmt = select(
        D.id.label("detection_id"),
        D.yaw,
        D.pitch,
        D.roll,
        D.gaze_yaw,
        D.gaze_pitch,
        D.looking,
        D.eyes_open,
        D.mouth_open,
        D.brow_height,
        D.states_missing,
    ).where(D.session_id == session_id)
    return _frame(bind, stmt)


def model_versions(bind, *, session_id: int) -> dict[str, list[str]]:
    """The model versions whose readings a session holds: {model: [versions]} (more than one after an
    analysis again with other weights)."""
    stmt = (
        select(P.model, P.model_version)
        .join(D, D.id == P.detection_id)
        .where(D.session_id == session_id)
        .distinct()
        .order_by(P.model, P.model_version)
    )
    out: dict[str, list[str]] = {}
    with _connect(bind) as c:
        for model, version in c.execute(stmt):
            out.setdefault(model, []).append(version)
    return out


def adapted_versions(bind) -> pd.DataFrame:
    """Every adapted version: version, tag, method, created_at, n, folds, cv_accuracy and baseline_accuracy of
    the ensemble, and whether it analyses its tag now (``chosen``)."""
    rows = _frame(
        bind,
        select(
            AdaptedVersion.version,
            AdaptedVersion.tag,
            AdaptedVersion.method,
            AdaptedVersion.card,
            AdaptedVersion.created_at,
            TagAdaptation.position,
        )
        .outerjoin(TagAdaptation, TagAdaptation.version == AdaptedVersion.version)
        .order_by(AdaptedVersion.tag, AdaptedVersion.created_at.desc()),
    )
    if rows.empty:
        return pd.DataFrame(
            columns=[
                "version",
                "tag",
                "method",
                "created_at",
                "n",
                "folds",
                "cv_accuracy",
                "baseline_accuracy",
                "chosen",
            ]
        )
    cards = rows.pop("card")
    rows["n"] = [c["n"] for c in cards]
    rows["folds"] = [c["folds"] for c in cards]
    rows["cv_accuracy"] = [c["cv_accuracy"]["ensemble"] for c in cards]
    rows["baseline_accuracy"] = [c["baseline_accuracy"]["ensemble"] for c in cards]
    rows["chosen"] = rows.pop("position").notna()
    return rows


def markers(bind, *, session_id: int) -> pd.DataFrame:
    """A session's markers: id, media_id, file, start_s, end_s (None for a point), label; by file and time."""
    stmt = (
        select(
            Marker.id,
            Marker.media_id,
            MediaFile.original_name.label("file"),
            Marker.start_s,
            Marker.end_s,
            Marker.label,
        )
        .join(MediaFile, MediaFile.id == Marker.media_id)
        .where(Marker.session_id == session_id)
        .order_by(Marker.media_id, Marker.start_s, Marker.id)
    )
    return _frame(bind, stmt)


def model_agreement(bind, *, session_id: int | None = None, models: tuple[str, str] = MODEL_NAMES[:2]) -> dict:
    """How often two models (by default the first two) give the same top label, overall and per class, plus
    the cross-table.

    Reads media_label_pair (kept in step with the predictions at ingest).
    Returns {"faces", "agreement", "kappa" (Cohen's), "per_class": DataFrame(emotion, faces_a, agree, agreement),
    "crosstab": DataFrame (rows: the first model's label, columns: the second's, counts)}.
    """
    stmt = (
        select(LP.label_a, LP.label_b, func.sum(LP.faces).label("faces"))
        .where(LP.model_a == models[0], LP.model_b == models[1])
        .group_by(LP.label_a, LP.label_b)
    )
    if session_id is not None:
        stmt = stmt.where(LP.session_id == session_id)
    pairs = _frame(bind, stmt)
    cross = pd.DataFrame(0, index=list(EMOTIONS), columns=list(EMOTIONS), dtype=int)
    for row in pairs.itertuples(index=False):  # at most 49 rows: the cross-table itself
        cross.loc[row.label_a, row.label_b] = int(row.faces)
    cross.index.name, cross.columns.name = models
    total = int(cross.values.sum())
    agree = pd.Series(cross.values.diagonal(), index=list(EMOTIONS))
    per_class = pd.DataFrame({"emotion": list(EMOTIONS), "faces_a": cross.sum(axis=1).values, "agree": agree.values})
    per_class["agreement"] = per_class["agree"] / per_class["faces_a"].where(per_class["faces_a"] > 0)
    return {
        "faces": total,
        "agreement": (float(agree.sum()) / total) if total else None,
        "kappa": cohen_kappa(cross),
        "per_class": per_class,
        "crosstab": cross,
    }


def sessions_overview(bind, *, limit: int | None = None) -> pd.DataFrame:
    """Sessions, newest first: id, name, recorded_at, participant, media files, people seen, face readings
    ("faces"), failed files."""
    media_done = func.sum(case((MediaFile.status == Outcome.DONE, 1), else_=0))
    media_failed = func.sum(case((MediaFile.status == Outcome.FAILED, 1), else_=0))
    faces = select(func.count()).select_from(D).where(D.session_id == S.id).scalar_subquery()
    people = _people_count(MP.session_id == S.id).scalar_subquery()
    stmt = (
        select(
            S.id,
            S.name,
            S.recorded_at,
            S.participant,
            S.created_at,
            func.coalesce(media_done, 0).label("media"),
            func.coalesce(media_failed, 0).label("failed"),
            people.label("people"),
            faces.label("faces"),
        )
        .outerjoin(MediaFile, MediaFile.session_id == S.id)
        .group_by(S.id)
        .order_by(func.coalesce(S.recorded_at, S.created_at).desc())
    )
    if limit:
        stmt = stmt.limit(limit)
    return _frame(bind, stmt)


def session_details(bind, *, session_id: int) -> dict | None:
    """A session's own details: name, recorded_at, participant, notes, consent, created_at, tags (sorted)."""
    with _connect(bind) as c:
        row = c.execute(
            select(S.name, S.recorded_at, S.participant, S.notes, S.consent, S.created_at).where(S.id == session_id)
        ).first()
        if row is None:
            return None
        tags = c.execute(select(SessionTag.tag).where(SessionTag.session_id == session_id).order_by(SessionTag.tag))
        return {**row._asdict(), "tags": list(tags.scalars())}


def sessions_with_tag(bind, *, tag: str) -> list[int]:
    with _connect(bind) as c:
        return sorted(c.execute(select(SessionTag.session_id).where(SessionTag.tag == tag)).scalars())


def all_tags(bind) -> list[str]:
    """Every tag in use, sorted."""
    with _connect(bind) as c:
        return sorted(c.execute(select(SessionTag.tag).distinct()).scalars())


def data_version(bind) -> tuple:
    """A cheap stamp that changes whenever sessions, files, results or jobs are added, finished or removed
    (by this process or any other): cached reads are keyed by it."""
    stmt = select(
        select(func.count()).select_from(S).scalar_subquery(),
        select(func.max(S.id)).scalar_subquery(),
        select(func.count()).select_from(SessionTag).scalar_subquery(),
        select(func.count()).select_from(MediaFile).scalar_subquery(),
        select(func.max(D.id)).scalar_subquery(),
        select(func.count()).select_from(AnalysisJob).scalar_subquery(),
        select(func.max(AnalysisJob.id)).scalar_subquery(),
        select(func.max(AnalysisJob.finished_at)).scalar_subquery(),
        select(func.count()).select_from(AnalysisJob).where(AnalysisJob.finished_at.is_(None)).scalar_subquery(),
        select(func.count()).select_from(Marker).scalar_subquery(),
        select(func.max(Marker.id)).scalar_subquery(),
        select(func.count()).select_from(PersonLabel).scalar_subquery(),
        select(func.max(PersonLabel.updated_at)).scalar_subquery(),
        select(func.count()).select_from(FaceReview).scalar_subquery(),
        select(func.max(FaceReview.reviewed_at)).scalar_subquery(),
        select(func.count()).select_from(AdaptedVersion).scalar_subquery(),
        select(func.max(TagAdaptation.position)).scalar_subquery(),
        select(func.count()).select_from(TagAdaptation).scalar_subquery(),
    )
    with _connect(bind) as c:
        return tuple(c.execute(stmt).one())


def _dialect(bind) -> str:
    engine = getattr(bind, "engine", bind)
    return engine.dialect.name


def session_media(bind, *, session_id: int) -> pd.DataFrame:
    """The session's media files: id, original_name, kind, status, error, size, fps, duration, people,
    faces (readings), stored_path."""
    faces = select(func.count()).select_from(D).where(D.media_id == MediaFile.id).scalar_subquery()
    people = _people_count(MP.media_id == MediaFile.id).scalar_subquery()
    stmt = (
        select(
            MediaFile.id,
            MediaFile.original_name,
            MediaFile.kind,
            MediaFile.status,
            MediaFile.error,
            MediaFile.width,
            MediaFile.height,
            MediaFile.fps,
            MediaFile.duration_s,
            MediaFile.frames_analyzed,
            people.label("people"),
            faces.label("faces"),
            MediaFile.stored_path,
            MediaFile.sha256,
            MediaFile.created_at,
        )
        .where(MediaFile.session_id == session_id)
        .order_by(MediaFile.id)
    )
    return _frame(bind, stmt)


def jobs_overview(bind, *, status: str | None = None, session_id: int | None = None, limit: int = 200) -> pd.DataFrame:
    """Newest analysis jobs first: id, session, file, status, progress, message, worker, attempts, faces, error,
    times."""
    J = AnalysisJob
    stmt = (
        select(
            J.id,
            FeedbackSession.name.label("session"),
            J.session_id,
            J.original_name.label("file"),
            J.status,
            J.outcome,
            J.progress,
            J.message,
            J.worker,
            J.attempts,
            J.faces,
            J.error,
            J.bytes,
            J.created_at,
            J.started_at,
            J.heartbeat_at,
            J.finished_at,
        )
        .join(FeedbackSession, FeedbackSession.id == J.session_id)
        .order_by(J.id.desc())
        .limit(limit)
    )
    if status:
        stmt = stmt.where(J.status == status)
    if session_id is not None:
        stmt = stmt.where(J.session_id == session_id)
    return _frame(bind, stmt)


def job_counts(bind) -> dict[str, int]:
    """Jobs per status, e.g. {"queued": 3, "running": 2, "done": 40, "failed": 1}."""
    with _connect(bind) as conn:
        rows = conn.execute(select(AnalysisJob.status, func.count()).group_by(AnalysisJob.status)).all()
    return {s: int(n) for s, n in rows}


def face_predictions(
    bind, *, media_id: int | None = None, session_id: int | None = None, detection_ids: list[int] | None = None
) -> pd.DataFrame:
    """One row per face: where it is, and each model's label and confidence (columns label_<model>,
    confidence_<model>) plus the ensemble's satisfaction index (positive minus negative probability)."""
    cols = [D.id.label("detection_id"), D.media_id, D.frame, D.t_s, D.x, D.y, D.w, D.h, D.track]
    for model in OPINIONS:
        cols += [
            func.max(case((P.model == model, P.label))).label(f"label_{model}"),
            func.max(case((P.model == model, P.confidence))).label(f"confidence_{model}"),
        ]
    pos = P.p_happy + P.p_surprise
    neg = P.p_angry + P.p_disgust + P.p_fear + P.p_sad
    cols.append(func.max(case((P.model == "ensemble", pos - neg))).label("satisfaction"))
    stmt = select(*cols).select_from(D).join(P, P.detection_id == D.id).group_by(*cols[:9]).order_by(D.media_id, D.t_s)
    if media_id is not None:
        stmt = stmt.where(D.media_id == media_id)
    if session_id is not None:
        stmt = stmt.where(D.session_id == session_id)
    if detection_ids is not None:
        stmt = stmt.where(D.id.in_(detection_ids))
    return _frame(bind, stmt)


def _media_of(bind, *, media_ids: list[int] | None = None) -> pd.DataFrame:
    """media_id, session_id, file, kind and stored_path of the given media files (default: all)."""
    stmt = select(
        MediaFile.id.label("media_id"),
        MediaFile.session_id,
        MediaFile.original_name.label("file"),
        MediaFile.kind,
        MediaFile.stored_path,
    )
    if media_ids is not None:
        stmt = stmt.where(MediaFile.id.in_(media_ids or [-1]))
    return _frame(bind, stmt)


def faces_to_review(bind, *, session_id: int | None = None, tag: str | None = None) -> pd.DataFrame:
    """The faces of a session, of the sessions with ``tag``, or of all: as ``face_predictions`` (each model's
    label and confidence), with session_id, file, kind, stored_path and the face's review (``review``,
    ``reviewer``; None where not reviewed)."""
    ids = [session_id] if session_id is not None else (sessions_with_tag(bind, tag=tag) if tag else None)
    parts = [face_predictions(bind, session_id=i) for i in ids] if ids is not None else [face_predictions(bind)]
    faces = pd.concat(parts, ignore_index=True) if parts else face_predictions(bind, session_id=-1)
    media = _media_of(bind)
    reviews = _frame(
        bind,
        select(FaceReview.detection_id, FaceReview.label.label("review"), FaceReview.reviewer).where(
            FaceReview.detection_id.is_not(None)
        ),
    )
    return faces.merge(media, on="media_id", how="left").merge(reviews, on="detection_id", how="left")


def face_probabilities(bind, *, detection_ids: list[int]) -> pd.DataFrame:
    """Each model's probabilities of the given faces: detection_id and p_<model>_<emotion> columns."""
    if not detection_ids:
        return pd.DataFrame(columns=["detection_id"])
    cols = [P.detection_id]
    for model in OPINIONS:
        cols += [func.max(case((P.model == model, getattr(P, f"p_{e}")))).label(f"p_{model}_{e}") for e in EMOTIONS]
    stmt = select(*cols).where(P.detection_id.in_(detection_ids)).group_by(P.detection_id)
    return _frame(bind, stmt)


def reviewed_probabilities(bind, *, session_ids: list[int]) -> pd.DataFrame:
    """The faces of ``session_ids`` reviewed with an emotion: detection_id, review and each model's
    probabilities (p_<model>_<emotion>), in one query (what a population's share correction learns from)."""
    R = FaceReview
    cols = [R.detection_id, R.label.label("review")]
    for model in OPINIONS:
        cols += [func.max(case((P.model == model, getattr(P, f"p_{e}")))).label(f"p_{model}_{e}") for e in EMOTIONS]
    stmt = (
        select(*cols)
        .join(P, P.detection_id == R.detection_id)
        .where(R.session_id.in_([int(s) for s in session_ids]), R.label.in_(EMOTIONS))
        .group_by(R.detection_id, R.label)
        .order_by(R.detection_id)
    )
    return _frame(bind, stmt)


def reviewed_faces(bind, *, session_id: int | None = None, tag: str | None = None) -> pd.DataFrame:
    """The reviewed faces (of a session, or of the sessions with ``tag``): as ``faces_to_review``, reviewed only."""
    R = FaceReview
    stmt = select(R.detection_id, R.label.label("review"), R.reviewer).where(R.detection_id.is_not(None))
    if session_id is not None:
        stmt = stmt.where(R.session_id == session_id)
    elif tag:
        stmt = stmt.where(R.session_id.in_(select(SessionTag.session_id).where(SessionTag.tag == tag)))
    reviews = _frame(bind, stmt)
    # only the reviewed faces are read, however many faces the sessions hold
    faces = (
        face_predictions(bind, detection_ids=[int(d) for d in reviews["detection_id"]])
        if len(reviews)
        else face_predictions(bind, session_id=-1)
    )
    media = _media_of(bind, media_ids=faces["media_id"].astype(int).tolist())
    out = faces.merge(media, on="media_id", how="left").merge(reviews, on="detection_id", how="inner")
    return out.sort_values("detection_id").reset_index(drop=True)


def disagreements(bind, *, session_id: int | None = None, limit: int = 24) -> pd.DataFrame:
    """Faces where the models do not all give the same top label, latest first, with where to find them
    (columns label_<model>, confidence_<model> for each model)."""
    each = {m: aliased(P) for m in MODEL_NAMES}
    first = each[MODEL_NAMES[0]]
    stmt = select(
        D.id.label("detection_id"),
        D.session_id,
        D.media_id,
        MediaFile.original_name,
        MediaFile.kind,
        MediaFile.stored_path,
        D.frame,
        D.t_s,
        D.x,
        D.y,
        D.w,
        D.h,
        *[col for m, p in each.items() for col in (p.label.label(f"label_{m}"), p.confidence.label(f"confidence_{m}"))],
    ).select_from(D)
    stmt = stmt.join(MediaFile, MediaFile.id == D.media_id)
    for m, p in each.items():
        stmt = stmt.join(p, and_(p.detection_id == D.id, p.model == m))
    # ordered by the first model's rows: SQLite walks their index backwards and sorts nothing
    stmt = (
        stmt.where(or_(*[p.label != first.label for p in list(each.values())[1:]]))
        .order_by(first.detection_id.desc())
        .limit(limit)
    )
    if session_id is not None:
        stmt = stmt.where(D.session_id == session_id)
    return _frame(bind, stmt)


def confidence_histogram(bind, *, session_id: int | None = None) -> pd.DataFrame:
    """Faces per top-label confidence bin and model (confidence = the bin's lower edge), from media_confidence_bin."""
    stmt = (
        select(CB.model, (CB.bin * (1.0 / CONFIDENCE_BINS)).label("confidence"), func.sum(CB.faces).label("faces"))
        .group_by(CB.model, CB.bin)
        .order_by(CB.model, CB.bin)
    )
    if session_id is not None:
        stmt = stmt.where(CB.session_id == session_id)
    return _frame(bind, stmt)


def cohen_kappa(crosstab: pd.DataFrame) -> float | None:
    """Agreement between two raters beyond chance, from their cross-table of labels."""
    n = crosstab.values.sum()
    if not n:
        return None
    observed = crosstab.values.diagonal().sum() / n
    expected = float((crosstab.sum(axis=1).values * crosstab.sum(axis=0).values).sum()) / n**2
    return float((observed - expected) / (1 - expected)) if expected < 1 else 1.0

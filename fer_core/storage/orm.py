"""Database tables (SQLAlchemy 2.x typed ORM). Tables only: queries live in repository.py and queries.py.

session 1-* media_file 1-* face_detection 1-* prediction
media_file 1-* media_person (one row per person seen and model)
session 1-* analysis_run 1-* face_detection
session 1-* session_tag
session 1-* analysis_job 0-1 media_file
media_file 1-* person_label (a name for a person seen; one name on two people merges them)
media_file 1-* marker (a point or a segment on the file's timeline)
media_file 1-* face_review (the true expression of a face, set by a person)
login_failure (wrong dashboard passwords, kept here so every dashboard process and a restart see them)

``face_detection.session_id`` repeats the media file's session on purpose: the
dashboard's aggregates then filter one indexed column instead of joining
through media_file for every one of a million predictions.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from fer_core.constants import EMOTIONS

# Named constraints, so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# 64-bit on PostgreSQL; SQLite's INTEGER is 64-bit already (and keeps its own name, so `alembic check` agrees).
BIG_INT = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class FeedbackSession(Base):
    __tablename__ = "feedback_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    participant: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    tags: Mapped[list[SessionTag]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )
    media: Mapped[list[MediaFile]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )


class SessionTag(Base):
    __tablename__ = "session_tag"

    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)

    session: Mapped[FeedbackSession] = relationship(back_populates="tags")


class AnalysisRun(Base):
    __tablename__ = "analysis_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), index=True)
    models: Mapped[dict] = mapped_column(JSON)  # {model name: version}
    detector: Mapped[str] = mapped_column(String(100))
    fps: Mapped[float] = mapped_column(Float)
    settings: Mapped[dict] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class MediaFile(Base):
    __tablename__ = "media_file"
    __table_args__ = (UniqueConstraint("session_id", "sha256", name="uq_media_file_session_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("analysis_run.id", ondelete="SET NULL"), index=True)
    original_name: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(10))  # photo | video
    sha256: Mapped[str | None] = mapped_column(String(64))  # None only for a file that could not be read
    bytes: Mapped[int] = mapped_column(BIG_INT)  # uploads reach 2 GB, past a 32-bit INTEGER
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    fps: Mapped[float | None] = mapped_column(Float)
    duration_s: Mapped[float | None] = mapped_column(Float)
    frames_analyzed: Mapped[int | None] = mapped_column(Integer)
    stored_path: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(10), index=True)  # done | failed
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    session: Mapped[FeedbackSession] = relationship(back_populates="media")


class FaceDetection(Base):
    __tablename__ = "face_detection"
    __table_args__ = (Index("ix_face_detection_media_t", "media_id", "t_s"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media_file.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("analysis_run.id", ondelete="SET NULL"), index=True)
    frame: Mapped[int] = mapped_column(Integer)
    t_s: Mapped[float] = mapped_column(Float)
    x: Mapped[int] = mapped_column(Integer)
    y: Mapped[int] = mapped_column(Integer)
    w: Mapped[int] = mapped_column(Integer)
    h: Mapped[int] = mapped_column(Integer)
    det_score: Mapped[float] = mapped_column(Float)
    track: Mapped[int | None] = mapped_column(Integer)
    # facial states (fer_core.vision.states); empty for readings analysed before them, or where not measurable
    yaw: Mapped[float | None] = mapped_column(Float)
    pitch: Mapped[float | None] = mapped_column(Float)
    roll: Mapped[float | None] = mapped_column(Float)
    gaze_yaw: Mapped[float | None] = mapped_column(Float)
    gaze_pitch: Mapped[float | None] = mapped_column(Float)
    looking: Mapped[bool | None] = mapped_column(Boolean)
    eyes_open: Mapped[float | None] = mapped_column(Float)
    mouth_open: Mapped[float | None] = mapped_column(Float)
    brow_height: Mapped[float | None] = mapped_column(Float)
    states_missing: Mapped[str | None] = mapped_column(String(60))


class Prediction(Base):
    __tablename__ = "prediction"
    __table_args__ = (Index("ix_prediction_detection_model", "detection_id", "model"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    detection_id: Mapped[int] = mapped_column(ForeignKey("face_detection.id", ondelete="CASCADE"))
    # No index on model alone: 3 values, and it lures SQLite away from the (detection_id, model) index.
    model: Mapped[str] = mapped_column(String(20))  # resnet50 | vgg16 | ensemble
    model_version: Mapped[str] = mapped_column(String(50))
    label: Mapped[str] = mapped_column(String(10))
    confidence: Mapped[float] = mapped_column(Float)
    # one column per emotion (p_angry ... p_neutral), so SQL can average them directly
    p_angry: Mapped[float] = mapped_column(Float)
    p_disgust: Mapped[float] = mapped_column(Float)
    p_fear: Mapped[float] = mapped_column(Float)
    p_happy: Mapped[float] = mapped_column(Float)
    p_sad: Mapped[float] = mapped_column(Float)
    p_surprise: Mapped[float] = mapped_column(Float)
    p_neutral: Mapped[float] = mapped_column(Float)


class MediaEmotionSummary(Base):
    """Per media file and model: faces, top-label counts and probability sums per emotion.

    Written in the same transaction as the file's predictions (repository.save_faces),
    so it is always consistent with them; the cross-session charts read this small
    table instead of scanning every prediction.
    """

    __tablename__ = "media_emotion_summary"

    media_id: Mapped[int] = mapped_column(ForeignKey("media_file.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(20), primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), index=True)
    faces: Mapped[int] = mapped_column(Integer)


for _e in EMOTIONS:  # n_<emotion>: faces with that top label; sum_<emotion>: summed probability
    setattr(MediaEmotionSummary, f"n_{_e}", mapped_column(f"n_{_e}", Integer, nullable=False))
    setattr(MediaEmotionSummary, f"sum_{_e}", mapped_column(f"sum_{_e}", Float, nullable=False))


class MediaPerson(Base):
    """One person seen in a media file, per model: a face track in a video, a face in a photo.

    ``person`` is the track id in a video and, in a photo, minus the face's detection id (a photo's faces
    have no track).  ``mean_<emotion>`` is the person's mean probability over their readings (sampled
    frames), ``top_label`` the emotion with the highest mean: a person counts once, however long they are
    on screen.  Written with the predictions (repository.save_faces).
    """

    __tablename__ = "media_person"

    media_id: Mapped[int] = mapped_column(ForeignKey("media_file.id", ondelete="CASCADE"), primary_key=True)
    person: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(20), primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), index=True)
    readings: Mapped[int] = mapped_column(Integer)
    t_first: Mapped[float] = mapped_column(Float)
    t_last: Mapped[float] = mapped_column(Float)
    top_label: Mapped[str] = mapped_column(String(10))


for _e in EMOTIONS:
    setattr(MediaPerson, f"mean_{_e}", mapped_column(f"mean_{_e}", Float, nullable=False))


class MediaLabelPair(Base):
    """Per media file and pair of models: faces per (model_a's label, model_b's label), for the model-agreement
    views. Every pair of the product's models, in ``constants.MODEL_NAMES`` order."""

    __tablename__ = "media_label_pair"

    media_id: Mapped[int] = mapped_column(ForeignKey("media_file.id", ondelete="CASCADE"), primary_key=True)
    model_a: Mapped[str] = mapped_column(String(20), primary_key=True)
    model_b: Mapped[str] = mapped_column(String(20), primary_key=True)
    label_a: Mapped[str] = mapped_column(String(10), primary_key=True)  # model_a's label
    label_b: Mapped[str] = mapped_column(String(10), primary_key=True)  # model_b's label
    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), index=True)
    faces: Mapped[int] = mapped_column(Integer)


class MediaConfidenceBin(Base):
    """Per media file and model: faces per top-label confidence bin (20 bins of 0.05)."""

    __tablename__ = "media_confidence_bin"

    media_id: Mapped[int] = mapped_column(ForeignKey("media_file.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(20), primary_key=True)
    bin: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), index=True)
    faces: Mapped[int] = mapped_column(Integer)


class PersonLabel(Base):
    """A name a user gave to a person seen ("Anna", "P7"), and/or their role in the study. People of a session
    with the same name are one participant (that is how two tracks, or two files, are merged).

    ``person`` is media_person's key at the time of naming; the person's time span and mean box are kept
    too, so that after the file is analysed again the name finds its person by time and box overlap
    (``repository.rematch_people``). ``person`` is None while no new person matches.
    """

    __tablename__ = "person_label"
    __table_args__ = (UniqueConstraint("media_id", "person", name="uq_person_label_media_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media_file.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), index=True)
    person: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str | None] = mapped_column(String(200))  # None: a role without a name
    role: Mapped[str | None] = mapped_column(String(12))  # constants.ROLES; None: the default (statistics.roles)
    t_first: Mapped[float] = mapped_column(Float)
    t_last: Mapped[float] = mapped_column(Float)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    w: Mapped[float] = mapped_column(Float)
    h: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Marker(Base):
    """A moment on a media file's timeline: a point (``end_s`` None) or a segment from ``start_s`` to ``end_s``."""

    __tablename__ = "marker"

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media_file.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), index=True)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class FaceReview(Base):
    """The true expression of one face as a person judged it: one of the 7 emotions, "not_a_face" or "unclear".

    ``detection_id`` is the face now; the face's time and box are kept as well, so that after the file is
    analysed again the review finds the same face (same file, time within half a sampling interval, box
    overlap at least 0.5: ``repository.rematch_reviews``). None while no face matches.
    """

    __tablename__ = "face_review"
    __table_args__ = (UniqueConstraint("detection_id", name="uq_face_review_detection_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media_file.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), index=True)
    detection_id: Mapped[int | None] = mapped_column(Integer)
    t_s: Mapped[float] = mapped_column(Float)
    x: Mapped[int] = mapped_column(Integer)
    y: Mapped[int] = mapped_column(Integer)
    w: Mapped[int] = mapped_column(Integer)
    h: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(20))
    reviewer: Mapped[str] = mapped_column(String(200))
    reviewed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class AdaptedVersion(Base):
    """A version of the models adapted to a population (``fer_core.adapt``): its card, with the fitted
    parameters. Kept in the database so that every worker analyses with it."""

    __tablename__ = "adapted_version"

    version: Mapped[str] = mapped_column(String(200), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), index=True)
    method: Mapped[str] = mapped_column(String(20))
    card: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TagAdaptation(Base):
    """The adapted version that analyses the sessions with a tag; a session with two such tags uses the one
    of lower ``position``."""

    __tablename__ = "tag_adaptation"

    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(ForeignKey("adapted_version.version", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)


class AnalysisJob(Base):
    """One uploaded file to analyse: its state, progress and the worker that has it.

    ``claim_token`` is set by the worker that claims the job; its writes are
    conditional on it, so a worker that lost the job (it stalled and another took
    over) can write nothing.  ``heartbeat_at`` tells a live worker from a dead one.
    """

    __tablename__ = "analysis_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("feedback_session.id", ondelete="CASCADE"), index=True)
    original_name: Mapped[str] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(String(1000))  # location in the media store; None once done
    sha256: Mapped[str | None] = mapped_column(String(64))
    bytes: Mapped[int] = mapped_column(BIG_INT)
    keep: Mapped[str] = mapped_column(String(10))  # media | faces | none
    status: Mapped[str] = mapped_column(String(10), index=True)  # queued | running | done | failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str | None] = mapped_column(String(10))  # done | skipped | failed (the file's outcome)
    error: Mapped[str | None] = mapped_column(Text)
    faces: Mapped[int | None] = mapped_column(Integer)
    people: Mapped[int | None] = mapped_column(Integer)
    media_id: Mapped[int | None] = mapped_column(ForeignKey("media_file.id", ondelete="SET NULL"), index=True)
    worker: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginFailure(Base):
    """A wrong password typed on the dashboard's login page, from one client address (``fer_core.trust.login``)."""

    __tablename__ = "login_failure"

    id: Mapped[int] = mapped_column(BIG_INT, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch (UTC)


class LoginSession(Base):
    """One login to the dashboard: the browser holds a random token in an HttpOnly cookie, the database its
    SHA-256 (``fer_core.trust.login.Logins``). Ended by logging out, or by being idle too long."""

    __tablename__ = "login_session"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public: the tab's identity, never the token
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    who: Mapped[str] = mapped_column(String(100))
    client: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[float] = mapped_column(Float)
    seen_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class UserAccount(Base):
    """A personal login with a role (``fer_core.trust.access``); the password as a salted scrypt hash."""

    __tablename__ = "user_account"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(12))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEvent(Base):
    """One thing someone did (``fer_core.trust.audit``): appended, never changed. No foreign keys: the trail outlives
    the sessions and accounts it names."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(BIG_INT, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    who: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(12))
    action: Mapped[str] = mapped_column(String(40))
    session_id: Mapped[int | None] = mapped_column(Integer, index=True)
    target: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[dict | None] = mapped_column(JSON)
    client: Mapped[str | None] = mapped_column(String(100))


class RetentionRule(Base):
    """After ``days`` the stored media and face pictures of the sessions with ``tag`` ("" : every session) are
    deleted, and their readings too unless ``keep_readings`` (``fer_core.trust.retention``)."""

    __tablename__ = "retention_rule"

    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    keep_readings: Mapped[bool] = mapped_column(Boolean, default=True)


CONFIDENCE_BINS = 20
PROB_COLUMNS = tuple(f"p_{e}" for e in EMOTIONS)
assert all(hasattr(Prediction, c) for c in PROB_COLUMNS)

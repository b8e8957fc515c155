"""Where the data lives and how to connect: one engine factory, and schema upgrades through Alembic.

The database is a SQLite file in the data folder by default (``FER_HOME``,
default ``./data``), or any SQLAlchemy URL in ``DATABASE_URL`` (the CLI, the
dashboard and Alembic all read it).  SQLite runs in WAL mode with a busy
timeout, so the dashboard can read while an ingest writes, and with foreign
keys enforced.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, Integer, cast, create_engine, event, func
from sqlalchemy.orm import Session, sessionmaker

from fer_core import settings

MIGRATIONS = settings.REPO / "migrations"


def data_home() -> Path:
    """Folder for the default database and stored media (``FER_HOME``, default ./data)."""
    return settings.current().home


def database_url() -> str:
    url = settings.current().database_url
    if url:
        return url
    home = data_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'fer.db'}"


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a crash loses no committed row
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine | None = None):
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the app calls this on start)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def floor_int(expr, dialect: str):
    """floor(expr) as an integer, in SQL: SQLite's CAST truncates (same for expr >= 0), PostgreSQL's rounds."""
    return cast(expr, Integer) if dialect == "sqlite" else cast(func.floor(expr), Integer)

"""Where the data lives and how to connect: one engine factory, and schema upgrades through Alembic.

The database is a SQLite file in the data folder by default (``FER_HOME``,
default ``./data``), or any SQLAlchemy URL in ``DATABASE_URL`` (the CLI, the
dashboard and Alembic all read it).  SQLite runs in WAL mode with a busy
timeout, so the dashboard can read while an ingest writes, and with foreign
keys enforced.
"""

from __future__ import annotations

import sys
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

    # stdout as it is now: Alembic's default is the sys.stdout of the moment alembic.config was first imported,
    # which may be a stream closed since (a test's captured output, a finished CLI's redirect)
    cfg = Config(str(MIGRATIONS / "alembic.ini"), stdout=sys.stdout)
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


class DatabaseUnusable(RuntimeError):
    """The database cannot be opened or read; the message says what is wrong and what to do, in words."""


def explain(engine: Engine, exc: Exception) -> str:
    """What is wrong with the database, and what to do, from the driver's error."""
    what = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if engine.dialect.name == "sqlite":
        where = engine.url.database or "the SQLite file"
        if "not a database" in what or "malformed" in what:
            return (
                f"The database file {where} is damaged or is not a database ({what}). Restore it from a backup, "
                "or move it aside to start with an empty one; DATABASE_URL can point to another."
            )
        return f"The database file {where} cannot be opened ({what}): check that its folder exists and is writable."
    where = settings.masked(engine.url.render_as_string(hide_password=False))
    return f"The database at {where} cannot be used ({what}): check that the server runs and DATABASE_URL is right."


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the app calls this on start); DatabaseUnusable if it cannot."""
    from alembic import command
    from sqlalchemy.exc import DatabaseError

    try:
        command.upgrade(alembic_config(engine), revision)
    except DatabaseError as exc:  # OperationalError (cannot connect) included
        raise DatabaseUnusable(explain(engine, exc)) from None


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def floor_int(expr, dialect: str):
    """floor(expr) as an integer, in SQL: SQLite's CAST truncates (same for expr >= 0), PostgreSQL's rounds."""
    return cast(expr, Integer) if dialect == "sqlite" else cast(func.floor(expr), Integer)

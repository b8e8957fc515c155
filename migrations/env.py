"""Alembic environment: metadata from fer_core.storage.orm, URL from fer_core.storage.db (DATABASE_URL or the default file)."""

from alembic import context

from fer_core.storage.db import make_engine
from fer_core.storage.orm import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    from fer_core.storage.db import database_url

    context.configure(
        url=database_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # The app and the tests hand over their own engine; the alembic command line builds one.
    engine = config.attributes.get("engine") or make_engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite has almost no ALTER TABLE
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

"""A database made by each earlier schema version, with sessions in it, upgrades to head with nothing lost:
every row written at that version is still there, with the same values in every column that still exists
(SQLite and PostgreSQL). The rows are written with that version's own tables (reflected), not today's ORM."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, MetaData, String, Text, insert, select

from fer_core.constants import EMOTIONS
from fer_core.storage.db import MIGRATIONS, make_engine, upgrade

REVISIONS = sorted(p.name[:4] for p in (Path(MIGRATIONS) / "versions").glob("0*.py"))[:-1]  # all but head
ROWS = 3
# Summaries the migrations recompute from the predictions and detections (caches of what the pages chart, not
# data anyone entered): their rows are rebuilt, so only the source rows are compared.
DERIVED = {"media_emotion_summary", "media_label_pair", "media_confidence_bin", "media_person"}
MODELS = ("resnet50", "vgg16", "ensemble")


def _value(table, column, i: int, written: dict[str, list[dict]]):
    """A plausible value for row ``i`` of ``column`` (the parent row's key where it refers to one, a model's
    name where it names a model, an emotion where it names one...), distinct across rows."""
    name, kind = column.name, column.type
    if column.foreign_keys:
        target = next(iter(column.foreign_keys)).column
        parent = written.get(target.table.name)
        return parent[i % ROWS][target.name] if parent else None
    if name == "model" or name.startswith("model_"):
        return MODELS[i % 3] if name != "model_b" else MODELS[(i + 1) % 3]
    if name in ("label", "label_a", "label_b", "review"):
        return EMOTIONS[i % 7]
    if name == "kind":
        return ("video", "photo", "video")[i]
    if name in ("status", "outcome"):
        return "done"
    if name == "keep":
        return "media"
    if isinstance(kind, Boolean):
        return i % 2 == 0
    if isinstance(kind, (DateTime, Date)):
        return datetime(2026, 11, 1 + i, 10, 0)
    if isinstance(kind, Integer):
        return 1 + i
    if isinstance(kind, Float):
        return 0.25 + i
    if isinstance(kind, JSON):
        return {"row": i}
    if isinstance(kind, (String, Text)):
        length = getattr(kind, "length", None) or 60
        return f"{table.name[:10]} {name[:10]} {i}"[:length]
    return None


def _fill(engine) -> dict[str, list[dict]]:
    meta = MetaData()
    meta.reflect(engine)
    written = {}
    with engine.begin() as db:
        for table in meta.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = [{c.name: _value(table, c, i, written) for c in table.columns} for i in range(ROWS)]
            db.execute(insert(table), rows)
            written[table.name] = rows
    return written


@pytest.mark.parametrize("revision", REVISIONS)
def test_a_database_of_an_earlier_version_upgrades_with_nothing_lost(revision, database_url):
    engine = make_engine(database_url)
    try:
        upgrade(engine, revision)
        written = _fill(engine)
        assert "feedback_session" in written and "prediction" in written
        upgrade(engine, "head")
        meta = MetaData()
        meta.reflect(engine)
        for name, rows in written.items():
            assert name in meta.tables, f"{name} was dropped"
            if name in DERIVED:
                continue
            table = meta.tables[name]
            key = [c.name for c in table.primary_key.columns]
            with engine.connect() as db:
                now = {tuple(r._mapping[k] for k in key): r._mapping for r in db.execute(select(table))}
            gone = set(rows[0]) - set(table.columns.keys())
            assert not gone, f"{name}: columns {gone} were dropped with their data"
            for row in rows:
                found = now.get(tuple(row[k] for k in key))
                assert found is not None, (name, row)
                for column, value in row.items():
                    if column in found and value is not None:
                        got = found[column]
                        if isinstance(value, datetime):
                            got = got if isinstance(got, datetime) else datetime.fromisoformat(str(got))
                        assert got == value, (name, column, value, got)
    finally:
        engine.dispose()

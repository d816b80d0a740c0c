"""Bringing a ledger written by an earlier version up to this one, when it is opened.

- `usage_calls.user_id` (who made the call, for team use) and `paid_by` (paid with the user's own
  key, or the server's) were added after the first ledgers were written: they are added with '' for
  every existing call (the server's key: counted by limits, as such calls were), and indexes created.
- The daily summaries (core/usage_rollup.py) built by another version are dropped, to be created
  and rebuilt from the calls.

Each step checks first and is safe to run twice, also by two processes opening one ledger at once.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, inspect, select, text

from core import usage_rollup as rollup
from core.usage_schema import calls

log = logging.getLogger("playground.usage")

ADDED_COLUMNS = {"user_id": "VARCHAR(255) NOT NULL DEFAULT ''",
                 "paid_by": "VARCHAR(8) NOT NULL DEFAULT ''"}


def migrate(engine: Engine) -> None:
    """Add missing columns and indexes to usage_calls; drop summaries of another version."""
    names = set(inspect(engine).get_table_names())
    if calls.name in names:
        _add_columns(engine)
    if rollup.meta.name in names:
        with engine.begin() as conn:
            version = conn.execute(select(rollup.meta.c.value)
                                   .where(rollup.meta.c.name == "rollup_version")).scalar()
            if version != rollup.ROLLUP_VERSION:
                log.info("usage ledger: summaries of version %s dropped, to be rebuilt", version)
                rollup.daily.drop(conn, checkfirst=True)
                rollup.latency_daily.drop(conn, checkfirst=True)


def _add_columns(engine: Engine) -> None:
    present = {c["name"] for c in inspect(engine).get_columns(calls.name)}
    for name, ddl in ADDED_COLUMNS.items():
        if name in present:
            continue
        try:
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE {calls.name} ADD COLUMN {name} {ddl}"))
        except Exception:  # another process added it a moment ago
            if name not in {c["name"] for c in inspect(engine).get_columns(calls.name)}:
                raise
    indexes = {ix["name"] for ix in inspect(engine).get_indexes(calls.name)}
    for index in calls.indexes:
        if index.name not in indexes:
            with engine.begin() as conn:
                index.create(conn, checkfirst=True)

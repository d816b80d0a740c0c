"""Daily summaries of the usage ledger, kept in step with it, so that the Usage & cost page reads a
few rows per day instead of every call.

Two tables, written in the same transaction as the calls they summarise:
- `usage_daily`: per UTC day, backend, model, page, currency, outcome, error kind and code: calls,
  token sums, estimated calls, cost, and how many calls have a latency / time to first token.
  Sums of integers are exact; a cost is the sum of the same floats the calls hold.
- `usage_latency_daily`: per UTC day, backend, model and page: how many calls fell in each latency
  and time-to-first-token bin (LATENCY_EDGES), one column per bin. The page's latency chart is these
  bins; a percentile is found in its bin here, then read exactly from the calls in that one bin.

Both are rebuilt from the calls when a ledger is first opened by this version (existing ledgers),
and the daily one after a re-pricing. Key columns hold '' for "none", never NULL, so that one
unique key works the same on every database (NULL is never equal to NULL).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

from core.usage_schema import calls, metadata

# Bump when the tables' meaning changes: ledgers rebuild them on open. 2: per user, 3: per key owner.
ROLLUP_VERSION = "3"
# Upper edges (seconds) of the latency bins; the last bin is open: [500 s, ∞).
LATENCY_EDGES: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0,
                                    10.0, 15.0, 20.0, 30.0, 50.0, 70.0, 100.0, 150.0, 200.0, 300.0, 500.0)
N_BINS = len(LATENCY_EDGES) + 1
METRICS = {"latency": calls.c.latency_s, "ttft": calls.c.ttft_s}

# Key order = the page's GROUP BY (day, model, currency, outcome, kind, code) first: read in key order,
# a range of days groups without a sort.
DAILY_KEYS = ("day", "model", "currency", "outcome", "error_kind", "error_code", "backend", "page",
              "user_id", "paid_by")
DAILY_SUMS = ("calls", "prompt_tokens", "completion_tokens", "total_tokens", "estimated_calls",
              "priced_calls", "cost", "latency_calls", "ttft_calls")
LATENCY_KEYS = ("day", "backend", "model", "page", "user_id", "paid_by")


def bin_column(metric: str, index: int) -> str:
    return f"{metric}_{index:02d}"


BIN_COLUMNS = tuple(bin_column(m, i) for m in METRICS for i in range(N_BINS))

daily = Table(
    "usage_daily",
    metadata,
    Column("day", String(10), nullable=False),
    Column("model", String(255), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error_kind", String(32), nullable=False),
    Column("error_code", String(64), nullable=False),
    Column("backend", String(64), nullable=False),
    Column("page", String(32), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("paid_by", String(8), nullable=False),
    *(Column(name, BigInteger, nullable=False, default=0) for name in DAILY_SUMS if name != "cost"),
    Column("cost", Float, nullable=False, default=0.0),
    PrimaryKeyConstraint(*DAILY_KEYS, name="pk_usage_daily"),
    sqlite_with_rowid=False,  # SQLite: rows stored in key order, so a range of days is one read
)

latency_daily = Table(
    "usage_latency_daily",
    metadata,
    Column("day", String(10), nullable=False),
    Column("backend", String(64), nullable=False),
    Column("model", String(255), nullable=False),
    Column("page", String(32), nullable=False),
    Column("user_id", String(255), nullable=False),
    Column("paid_by", String(8), nullable=False),
    *(Column(name, Integer, nullable=False, default=0) for name in BIN_COLUMNS),
    PrimaryKeyConstraint(*LATENCY_KEYS, name="pk_usage_latency_daily"),
    sqlite_with_rowid=False,
)

meta = Table(
    "usage_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)


def bin_of(value: float) -> int:
    """The bin a latency falls in: bin i is [LATENCY_EDGES[i-1], LATENCY_EDGES[i])."""
    return bisect.bisect_right(LATENCY_EDGES, value)


def bin_bounds(index: int) -> tuple[float | None, float | None]:
    """(low, high) of a bin in seconds; None where it is open (below 0.05 s, from 500 s)."""
    low = LATENCY_EDGES[index - 1] if index > 0 else None
    high = LATENCY_EDGES[index] if index < len(LATENCY_EDGES) else None
    return low, high


def in_bin(column: Any, index: int) -> Any:
    """SQL: the column's value lies in the bin (the same comparisons as bin_of)."""
    low, high = bin_bounds(index)
    parts = [column.is_not(None)]
    if low is not None:
        parts.append(column >= low)
    if high is not None:
        parts.append(column < high)
    return and_(*parts)


# ---- writing: deltas of a batch of calls, upserted ----------------------------------------------
def deltas(values: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What a batch of call rows (as inserted: core.usage_schema.to_db) adds to each summary row."""
    days: dict[tuple[str, ...], dict[str, Any]] = {}
    bins: dict[tuple[str, ...], dict[str, Any]] = {}
    for v in values:
        key = (v["day"], v["model"], v["currency"] or "", v["outcome"], v["error_kind"] or "",
               v["error_code"] or "", v["backend"], v["page"], v["user_id"], v["paid_by"])
        row = days.get(key)
        if row is None:
            row = days[key] = dict(zip(DAILY_KEYS, key, strict=True)) | dict.fromkeys(DAILY_SUMS, 0)
            row["cost"] = 0.0
        row["calls"] += 1
        row["prompt_tokens"] += v["prompt_tokens"] or 0
        row["completion_tokens"] += v["completion_tokens"] or 0
        row["total_tokens"] += v["total_tokens"] or 0
        row["estimated_calls"] += 1 if v["tokens_estimated"] else 0
        if v["cost"] is not None:
            row["priced_calls"] += 1
            row["cost"] += v["cost"]
        row["latency_calls"] += v["latency_s"] is not None
        row["ttft_calls"] += v["ttft_s"] is not None
        if v["latency_s"] is None and v["ttft_s"] is None:
            continue
        bkey = (v["day"], v["backend"], v["model"], v["page"], v["user_id"], v["paid_by"])
        brow = bins.get(bkey)
        if brow is None:
            brow = bins[bkey] = dict(zip(LATENCY_KEYS, bkey, strict=True)) | dict.fromkeys(BIN_COLUMNS, 0)
        for metric, column in (("latency", "latency_s"), ("ttft", "ttft_s")):
            if v[column] is not None:
                brow[bin_column(metric, bin_of(v[column]))] += 1
    return list(days.values()), list(bins.values())


def _add(conn: Connection, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Add each row's numbers to the summary row with its key, creating it when missing."""
    if not rows:
        return
    sums = [c.name for c in table.columns if c.name not in keys]
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as upsert
        else:
            from sqlalchemy.dialects.postgresql import insert as upsert
        stmt = upsert(table)
        stmt = stmt.on_conflict_do_update(index_elements=list(keys),
                                          set_={n: table.c[n] + stmt.excluded[n] for n in sums})
        conn.execute(stmt, rows)
        return
    add_generic(conn, table, keys, rows)


def add_generic(conn: Connection, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """The upsert for databases without INSERT ... ON CONFLICT: UPDATE, then INSERT where no row."""
    sums = [c.name for c in table.columns if c.name not in keys]
    for row in rows:
        where = [table.c[k] == row[k] for k in keys]
        changed = conn.execute(update(table).where(*where).values(
            {n: table.c[n] + row[n] for n in sums})).rowcount
        if not changed:
            conn.execute(insert(table).values(row))


def record(conn: Connection, values: list[dict[str, Any]]) -> None:
    """Fold a batch of inserted call rows into both summaries (inside the caller's transaction)."""
    day_rows, bin_rows = deltas(values)
    _add(conn, daily, DAILY_KEYS, day_rows)
    _add(conn, latency_daily, LATENCY_KEYS, bin_rows)


# ---- rebuilding from the calls ------------------------------------------------------------------
def _blank(column: Any) -> Any:
    return func.coalesce(column, "")


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def rebuild_daily(conn: Connection) -> None:
    """usage_daily anew from the calls (after a re-pricing, or for a ledger that never had it)."""
    conn.execute(delete(daily))
    keys = (calls.c.day, calls.c.model, _blank(calls.c.currency), calls.c.outcome,
            _blank(calls.c.error_kind), _blank(calls.c.error_code), calls.c.backend, calls.c.page,
            calls.c.user_id, calls.c.paid_by)
    zero = literal(0)
    query = select(
        *keys, func.count(), func.coalesce(func.sum(calls.c.prompt_tokens), zero),
        func.coalesce(func.sum(calls.c.completion_tokens), zero),
        func.coalesce(func.sum(calls.c.total_tokens), zero),
        _count_if(calls.c.tokens_estimated.is_(True)), func.count(calls.c.cost),
        func.coalesce(func.sum(calls.c.cost), literal(0.0)), func.count(calls.c.latency_s),
        func.count(calls.c.ttft_s),
    ).group_by(*keys)
    conn.execute(insert(daily).from_select([*DAILY_KEYS, *DAILY_SUMS], query))


def rebuild_latency(conn: Connection) -> None:
    """usage_latency_daily anew from the calls."""
    conn.execute(delete(latency_daily))
    keys = (calls.c.day, calls.c.backend, calls.c.model, calls.c.page, calls.c.user_id, calls.c.paid_by)
    counts = [_count_if(in_bin(column, i)) for column in METRICS.values() for i in range(N_BINS)]
    query = (select(*keys, *counts)
             .where((calls.c.latency_s.is_not(None)) | (calls.c.ttft_s.is_not(None))).group_by(*keys))
    conn.execute(insert(latency_daily).from_select([*LATENCY_KEYS, *BIN_COLUMNS], query))


def rebuild(conn: Connection) -> None:
    """Both summaries anew, and the version they were built by (inside the caller's transaction)."""
    rebuild_daily(conn)
    rebuild_latency(conn)
    conn.execute(delete(meta).where(meta.c.name == "rollup_version"))
    conn.execute(insert(meta).values(name="rollup_version", value=ROLLUP_VERSION))


def is_current(conn: Connection) -> bool:
    """Whether the summaries were built by this version (else they must be rebuilt)."""
    value = conn.execute(select(meta.c.value).where(meta.c.name == "rollup_version")).scalar()
    return value == ROLLUP_VERSION


def merge_bins(rows: Iterable[tuple[Any, ...]]) -> dict[str, list[list[int]]]:
    """{model: [latency counts per bin, ttft counts per bin]} from (model, *BIN_COLUMNS) rows."""
    out: dict[str, list[list[int]]] = defaultdict(lambda: [[0] * N_BINS, [0] * N_BINS])
    for model, *counts in rows:
        mine = out[model]
        for i, value in enumerate(counts):
            mine[i // N_BINS][i % N_BINS] += int(value or 0)
    return dict(out)

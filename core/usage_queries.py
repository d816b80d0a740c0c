"""The usage ledger's reads: every figure is aggregated in SQL (GROUP BY, SUM, COUNT), never by
loading every row. Percentiles are nearest-rank: a COUNT, then ORDER BY ... LIMIT 1 OFFSET k.

Everything here is portable SQL: it runs the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select
from sqlalchemy.sql import ColumnElement

from core.usage_schema import (
    ROW_COLUMNS,
    Summary,
    UsageFilter,
    UsageRow,
    aware_utc,
    calls,
    from_db,
    naive_utc,
)

WIDE_SHARE = 10  # a time range with at least 1/WIDE_SHARE of all rows counts as wide
BUCKETS = {"day": calls.c.day, "hour": calls.c.hour}
_IS_ERROR = case((calls.c.outcome == "error", 1), else_=0)
IS_ESTIMATED = case((calls.c.tokens_estimated.is_(True), 1), else_=0)


def conditions(f: UsageFilter, wide_time: bool = False) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a filter (none for an empty filter).

    `wide_time` (SQLite only) tells the query planner that the time range keeps most rows, so
    that it walks an index in the ORDER BY's order instead of sorting the range (percentiles).
    """
    out: list[ColumnElement[bool]] = []
    mark = func.likely if wide_time else (lambda clause: clause)
    if f.start is not None:
        out.append(mark(calls.c.ts >= naive_utc(f.start)))
    if f.end is not None:
        out.append(mark(calls.c.ts < naive_utc(f.end)))
    if f.backends:
        out.append(calls.c.backend.in_(f.backends))
    if f.models:
        out.append(calls.c.model.in_(f.models))
    if f.pages:
        out.append(calls.c.page.in_(f.pages))
    if f.session_id is not None:
        out.append(calls.c.session_id == f.session_id)
    if f.users:
        out.append(calls.c.user_id.in_(f.users))
    if f.payers:
        out.append(calls.c.paid_by.in_(f.payers))
    return out


def _sum(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


def nearest_rank(n: int, p: float) -> int:
    """The 0-based index of the p-th percentile of n sorted values (nearest-rank method)."""
    return min(n - 1, max(0, math.ceil(p * n - 1e-9) - 1))  # 1e-9: 0.95 * n may come out a hair high


def percentiles(conn: Connection, column: Any, where: list[Any], n: int,
                ps: tuple[float, ...] = (0.5, 0.95)) -> list[float | None]:
    """Nearest-rank percentiles of `column` over the n filtered rows where it is not NULL."""
    if n <= 0:
        return [None] * len(ps)
    out: list[float | None] = []
    for p in ps:
        stmt = (select(column).where(*where, column.is_not(None)).order_by(column)
                .limit(1).offset(nearest_rank(n, p)))
        value = conn.execute(stmt).scalar()
        out.append(None if value is None else float(value))
    return out


def summary(conn: Connection, f: UsageFilter) -> Summary:
    where = conditions(f)
    # One pass, grouped by currency: the totals are the groups' sums, the costs are per group.
    groups = conn.execute(select(
        calls.c.currency, func.count(), _sum(_IS_ERROR), _sum(calls.c.prompt_tokens),
        _sum(calls.c.completion_tokens), _sum(calls.c.total_tokens), _sum(IS_ESTIMATED),
        func.count(calls.c.latency_s), func.count(calls.c.ttft_s), func.sum(calls.c.cost),
    ).where(*where).group_by(calls.c.currency)).all()
    totals = [sum(int(g[i] or 0) for g in groups) for i in range(1, 9)]
    n, errors, prompt, completion, total, estimated, n_latency, n_ttft = totals
    costs = {str(g[0]): float(g[9]) for g in groups if g[0] is not None and g[9] is not None}
    latency, ttft = speed(conn, f, n, n_latency, n_ttft)
    return Summary(
        calls=n, errors=errors, error_rate=errors / n if n else 0.0, prompt_tokens=prompt,
        completion_tokens=completion, total_tokens=total, estimated_calls=estimated,
        cost_by_currency=dict(sorted(costs.items())), latency_p50=latency[0], latency_p95=latency[1],
        ttft_p50=ttft[0], ttft_p95=ttft[1])


def speed(conn: Connection, f: UsageFilter, n: int, n_latency: int,
          n_ttft: int) -> tuple[list[float | None], list[float | None]]:
    """(latency p50, p95), (ttft p50, p95) over the n filtered rows, n_latency / n_ttft of which
    have the value."""
    # A range holding a good share of all rows: walk the (latency_s, ts, ...) index in order to
    # the k-th match rather than sort the whole range (SQLite cannot tell by itself).
    wide = (conn.dialect.name == "sqlite" and (f.start is not None or f.end is not None)
            and f.session_id is None and n * WIDE_SHARE >= count(conn, UsageFilter()))
    sorted_where = conditions(f, wide_time=True) if wide else conditions(f)
    return (percentiles(conn, calls.c.latency_s, sorted_where, n_latency),
            percentiles(conn, calls.c.ttft_s, sorted_where, n_ttft))


def cost_over_time(conn: Connection, f: UsageFilter, bucket: str = "day") -> list[dict[str, Any]]:
    """Cost and calls per (UTC period, model, currency), oldest first. Unpriced calls have
    currency None and cost 0.0."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {sorted(BUCKETS)}, not {bucket!r}")
    period = BUCKETS[bucket]
    stmt = (select(period, calls.c.model, calls.c.currency, _sum(calls.c.cost), func.count())
            .where(*conditions(f)).group_by(period, calls.c.model, calls.c.currency))
    out = [{"period": p, "model": m, "currency": cur, "cost": float(cost), "calls": int(n)}
           for p, m, cur, cost, n in conn.execute(stmt)]
    # Sorted here, not in SQL: databases disagree on where NULL (no currency) sorts.
    return sorted(out, key=lambda r: (r["period"], r["model"], r["currency"] or ""))


def tokens_by_model(conn: Connection, f: UsageFilter) -> list[dict[str, Any]]:
    """Calls and token sums per model, most tokens first."""
    total = _sum(calls.c.total_tokens)
    stmt = (select(calls.c.model, func.count(), _sum(calls.c.prompt_tokens),
                   _sum(calls.c.completion_tokens), total, _sum(IS_ESTIMATED))
            .where(*conditions(f)).group_by(calls.c.model).order_by(total.desc(), calls.c.model))
    return [{"model": m, "calls": int(n), "prompt_tokens": int(p), "completion_tokens": int(c),
             "total_tokens": int(t), "estimated_calls": int(e)}
            for m, n, p, c, t, e in conn.execute(stmt)]


def outcomes(conn: Connection, f: UsageFilter) -> list[dict[str, Any]]:
    """Calls per (outcome, error kind, provider code), most frequent first."""
    cols = (calls.c.outcome, calls.c.error_kind, calls.c.error_code)
    stmt = select(*cols, func.count()).where(*conditions(f)).group_by(*cols)
    out = [{"outcome": o, "error_kind": k, "error_code": c, "count": int(cnt)}
           for o, k, c, cnt in conn.execute(stmt)]
    return sorted(out, key=lambda r: (-r["count"], r["outcome"], r["error_kind"] or "",
                                      r["error_code"] or ""))


def rows(conn: Connection, f: UsageFilter, limit: int = 1000, offset: int = 0) -> list[UsageRow]:
    """The rows themselves, newest first."""
    stmt = (select(*ROW_COLUMNS).where(*conditions(f))
            .order_by(calls.c.ts.desc(), calls.c.id.desc())
            .limit(max(0, int(limit))).offset(max(0, int(offset))))
    return [from_db(r) for r in conn.execute(stmt).all()]


def time_range(conn: Connection, f: UsageFilter) -> tuple[datetime | None, datetime | None]:
    """The first and last call time (aware UTC): MIN and MAX, read from the ts index."""
    first, last = conn.execute(select(func.min(calls.c.ts), func.max(calls.c.ts))
                               .where(*conditions(f))).one()
    return (aware_utc(first) if first is not None else None,
            aware_utc(last) if last is not None else None)


def count(conn: Connection, f: UsageFilter) -> int:
    return int(conn.execute(select(func.count()).select_from(calls).where(*conditions(f))).scalar() or 0)


def distinct_values(conn: Connection) -> dict[str, list[str]]:
    """Every backend, model and page the ledger has seen, sorted (for the filter widgets).

    A loose index scan: MIN(column), then MIN(column) > the last one, and so on, one index seek
    per distinct value instead of reading every row.
    """
    out: dict[str, list[str]] = {}
    for name, column in (("backends", calls.c.backend), ("models", calls.c.model),
                         ("pages", calls.c.page), ("users", calls.c.user_id)):
        values: list[str] = []
        value = conn.execute(select(func.min(column))).scalar()
        while value is not None:
            values.append(value)
            value = conn.execute(select(func.min(column)).where(column > value)).scalar()
        out[name] = values
    return out

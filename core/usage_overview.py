"""The Usage & cost page's figures for one filter: summary, cost over time, tokens by model, outcomes
and the latency chart, read from the daily summaries (core/usage_rollup.py) for the whole UTC days
of the range and from the calls themselves for the partial days at its ends. Exact: the same sums,
counts and nearest-rank percentiles as the queries over the calls (core/usage_queries.py) give.

Portable SQL, as in core/usage_queries.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, select

from core import usage_rollup as r
from core.usage_queries import BUCKETS, IS_ESTIMATED, conditions, nearest_rank, percentiles
from core.usage_schema import Summary, UsageFilter, aware_utc, calls, naive_utc

Bins = dict[str, list[list[int]]]  # {model: [latency counts per bin, ttft counts per bin]}


@dataclass(frozen=True)
class Overview:
    """What the page draws for one filter: the same values as Ledger.summary, cost_over_time,
    tokens_by_model and outcomes would give, and calls per latency bin and model."""

    summary: Summary
    cost_over_time: list[dict[str, Any]] = field(default_factory=list)
    tokens_by_model: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    latency_histogram: list[dict[str, Any]] = field(default_factory=list)


def split(f: UsageFilter) -> tuple[tuple[str | None, str | None] | None, list[UsageFilter]]:
    """The filter's whole UTC days, as (first day, day after the last) with None for open ends,
    or None when it has none; and the filters of the rest (the partial days at either end)."""
    if f.session_id is not None:
        return None, [f]
    start = naive_utc(f.start) if f.start is not None else None
    end = naive_utc(f.end) if f.end is not None else None
    first = None if start is None else (start.date() if start.time() == time(0) else
                                        start.date() + timedelta(days=1))
    stop = None if end is None else end.date()
    if first is not None and stop is not None and first >= stop:
        return None, [f]
    parts = []
    if start is not None and first is not None and start < _midnight(first):
        parts.append(replace(f, end=aware_utc(_midnight(first))))
    if end is not None and stop is not None and _midnight(stop) < end:
        parts.append(replace(f, start=aware_utc(_midnight(stop))))
    return (first and first.isoformat(), stop and stop.isoformat()), parts


def _midnight(day: Any) -> datetime:
    return datetime.combine(day, time(0))  # naive UTC, as stored


def day_where(table: Any, days: tuple[str | None, str | None], f: UsageFilter) -> list[Any]:
    out = []
    if days[0] is not None:
        out.append(table.c.day >= days[0])
    if days[1] is not None:
        out.append(table.c.day < days[1])
    for name, values in (("backend", f.backends), ("model", f.models), ("page", f.pages),
                         ("user_id", f.users), ("paid_by", f.payers)):
        if values:
            out.append(table.c[name].in_(values))
    return out


def _none(column: Any) -> Any:
    return case((column == "", None), else_=column)


def summary_groups(conn: Connection, f: UsageFilter, days: tuple[str | None, str | None]) -> list[Any]:
    """The whole days' groups from usage_daily, in the shape raw_groups gives."""
    d = r.daily
    keys = (d.c.day, d.c.model, d.c.currency, d.c.outcome, d.c.error_kind, d.c.error_code)
    priced = func.sum(d.c.priced_calls)
    stmt = (select(d.c.day, d.c.model, _none(d.c.currency), d.c.outcome, _none(d.c.error_kind),
                   _none(d.c.error_code), func.sum(d.c.calls), func.sum(d.c.prompt_tokens),
                   func.sum(d.c.completion_tokens), func.sum(d.c.total_tokens),
                   func.sum(d.c.estimated_calls), case((priced > 0, func.sum(d.c.cost)), else_=None),
                   func.sum(d.c.latency_calls), func.sum(d.c.ttft_calls))
            .where(*day_where(d, days, f)).group_by(*keys))
    return conn.execute(stmt).all()


def raw_groups(conn: Connection, f: UsageFilter, bucket: str) -> list[Any]:
    """Calls grouped by (period, model, currency, outcome, error kind, code), with their sums."""
    period = BUCKETS[bucket]
    keys = (period, calls.c.model, calls.c.currency, calls.c.outcome, calls.c.error_kind,
            calls.c.error_code)
    stmt = (select(*keys, func.count(), func.sum(calls.c.prompt_tokens),
                   func.sum(calls.c.completion_tokens), func.sum(calls.c.total_tokens),
                   func.sum(IS_ESTIMATED),
                   func.sum(calls.c.cost), func.count(calls.c.latency_s), func.count(calls.c.ttft_s))
            .where(*conditions(f)).group_by(*keys))
    return conn.execute(stmt).all()


def summary_bins(conn: Connection, f: UsageFilter, days: tuple[str | None, str | None]) -> Bins:
    t = r.latency_daily
    stmt = (select(t.c.model, *(func.sum(t.c[name]) for name in r.BIN_COLUMNS))
            .where(*day_where(t, days, f)).group_by(t.c.model))
    return r.merge_bins(conn.execute(stmt))


# Built once: the fifty CASE expressions cost more to construct than to run on a partial day.
_BIN_COUNTS = tuple(func.sum(case((r.in_bin(column, i), 1), else_=0))
                    for column in r.METRICS.values() for i in range(r.N_BINS))


def raw_bins(conn: Connection, f: UsageFilter) -> Bins:
    stmt = (select(calls.c.model, *_BIN_COUNTS).where(*conditions(f))
            .where(calls.c.latency_s.is_not(None) | calls.c.ttft_s.is_not(None)).group_by(calls.c.model))
    return r.merge_bins(conn.execute(stmt))


def _add_bins(into: Bins, more: Bins) -> None:
    for model, (latency, ttft) in more.items():
        mine = into.setdefault(model, [[0] * r.N_BINS, [0] * r.N_BINS])
        for i in range(r.N_BINS):
            mine[0][i] += latency[i]
            mine[1][i] += ttft[i]


def gather(conn: Connection, f: UsageFilter, bucket: str, summaries: bool) -> tuple[list[Any], Bins]:
    """Groups and latency bins for the filter: whole days from the summaries when they may be used
    (`summaries`, and a daily bucket), the rest from the calls."""
    days, parts = split(f) if summaries and bucket == "day" else (None, [f])
    groups: list[Any] = []
    bins: Bins = {}
    if days is not None:
        groups += summary_groups(conn, f, days)
        _add_bins(bins, summary_bins(conn, f, days))
    for part in parts:
        groups += raw_groups(conn, part, bucket)
        _add_bins(bins, raw_bins(conn, part))
    return groups, bins


def overview(conn: Connection, f: UsageFilter, bucket: str = "day", summaries: bool = True) -> Overview:
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {sorted(BUCKETS)}, not {bucket!r}")
    groups, bins = gather(conn, f, bucket, summaries)
    return _derive(conn, f, groups, bins)


def latency_histogram(conn: Connection, f: UsageFilter, summaries: bool = True) -> list[dict[str, Any]]:
    """Calls per (model, latency bin), as in Overview.latency_histogram."""
    days, parts = split(f) if summaries else (None, [f])
    bins: Bins = summary_bins(conn, f, days) if days is not None else {}
    for part in parts:
        _add_bins(bins, raw_bins(conn, part))
    return histogram_rows(bins)


def histogram_rows(bins: Bins) -> list[dict[str, Any]]:
    """Calls per (model, latency bin) with the bin's bounds in seconds, bins without calls left out."""
    out = []
    for model in sorted(bins):
        for index, count in enumerate(bins[model][0]):
            if count:
                low, high = r.bin_bounds(index)
                out.append({"model": model, "bin": index, "low": low or 0.0, "high": high, "count": count})
    return out


def bin_percentiles(conn: Connection, f: UsageFilter, metric: str, counts: list[int], n: int,
                    ps: tuple[float, ...] = (0.5, 0.95)) -> list[float | None]:
    """Nearest-rank percentiles of n values whose bins hold `counts`: the bin from the counts, the
    value from the calls in that bin alone. Falls back to the full walk if the counts disagree."""
    column = r.METRICS[metric]
    if n <= 0:
        return [None] * len(ps)
    where = conditions(f)
    if sum(counts) != n:  # summaries out of step with the calls: exact the slow way
        return percentiles(conn, column, where, n, ps)
    out: list[float | None] = []
    for p in ps:
        rank, seen, index = nearest_rank(n, p), 0, 0
        while seen + counts[index] <= rank:
            seen += counts[index]
            index += 1
        stmt = (select(column).where(*where, r.in_bin(column, index)).order_by(column)
                .limit(1).offset(rank - seen))
        value = conn.execute(stmt).scalar()
        if value is None:
            return percentiles(conn, column, where, n, ps)
        out.append(float(value))
    return out


def _derive(conn: Connection, f: UsageFilter, groups: list[Any], bins: Bins) -> Overview:
    costs: dict[tuple[str, str, str | None], list[float]] = defaultdict(lambda: [0.0, 0])
    tokens: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    outs: dict[tuple[str, str | None, str | None], int] = defaultdict(int)
    by_currency: dict[str, float] = {}
    n = errors = n_latency = n_ttft = 0
    for period, model, cur, outcome, kind, code, cnt, prompt, completion, total, est, cost, nl, nt in groups:
        cnt, prompt, completion, total, est = (int(v or 0) for v in (cnt, prompt, completion, total, est))
        entry = costs[(period, model, cur)]
        entry[0] += float(cost or 0.0)
        entry[1] += cnt
        for i, value in enumerate((cnt, prompt, completion, total, est)):
            tokens[model][i] += value
        outs[(outcome, kind, code)] += cnt
        if cur is not None and cost is not None:
            by_currency[str(cur)] = by_currency.get(str(cur), 0.0) + float(cost)
        n += cnt
        errors += cnt if outcome == "error" else 0
        n_latency += int(nl or 0)
        n_ttft += int(nt or 0)
    all_bins = [[sum(b[m][i] for b in bins.values()) for i in range(r.N_BINS)] for m in (0, 1)]
    latency = bin_percentiles(conn, f, "latency", all_bins[0], n_latency)
    ttft = bin_percentiles(conn, f, "ttft", all_bins[1], n_ttft)
    totals = [sum(v[i] for v in tokens.values()) for i in range(1, 5)]
    summary = Summary(
        calls=n, errors=errors, error_rate=errors / n if n else 0.0, prompt_tokens=totals[0],
        completion_tokens=totals[1], total_tokens=totals[2], estimated_calls=totals[3],
        cost_by_currency=dict(sorted(by_currency.items())), latency_p50=latency[0],
        latency_p95=latency[1], ttft_p50=ttft[0], ttft_p95=ttft[1])
    cost_rows = sorted(({"period": p, "model": m, "currency": c, "cost": v[0], "calls": int(v[1])}
                        for (p, m, c), v in costs.items()),
                       key=lambda row: (row["period"], row["model"], row["currency"] or ""))
    token_rows = sorted(({"model": m, "calls": v[0], "prompt_tokens": v[1], "completion_tokens": v[2],
                          "total_tokens": v[3], "estimated_calls": v[4]} for m, v in tokens.items()),
                        key=lambda row: (-row["total_tokens"], row["model"]))
    outcome_rows = sorted(({"outcome": o, "error_kind": k, "error_code": c, "count": cnt}
                           for (o, k, c), cnt in outs.items()),
                          key=lambda row: (-row["count"], row["outcome"], row["error_kind"] or "",
                                           row["error_code"] or ""))
    return Overview(summary, cost_rows, token_rows, outcome_rows, histogram_rows(bins))

"""The Usage & cost page's figures in one grouped pass: summary totals, cost over time, tokens by
model and outcomes all come from one GROUP BY over the filtered rows (a few hundred groups), then
the percentiles (core/usage_queries.py). Exact: the same sums the separate queries make.

Portable SQL, as in core/usage_queries.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from core.usage_queries import BUCKETS, IS_ESTIMATED, conditions, speed
from core.usage_schema import Summary, UsageFilter, calls


@dataclass(frozen=True)
class Overview:
    """What the page draws for one filter: the same values as Ledger.summary, cost_over_time,
    tokens_by_model and outcomes would give."""

    summary: Summary
    cost_over_time: list[dict[str, Any]] = field(default_factory=list)
    tokens_by_model: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)


def overview(conn: Connection, f: UsageFilter, bucket: str = "day") -> Overview:
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {sorted(BUCKETS)}, not {bucket!r}")
    period = BUCKETS[bucket]
    keys = (period, calls.c.model, calls.c.currency, calls.c.outcome, calls.c.error_kind,
            calls.c.error_code)
    stmt = (select(*keys, func.count(), func.sum(calls.c.prompt_tokens),
                   func.sum(calls.c.completion_tokens), func.sum(calls.c.total_tokens),
                   func.sum(IS_ESTIMATED),
                   func.sum(calls.c.cost), func.count(calls.c.latency_s), func.count(calls.c.ttft_s))
            .where(*conditions(f)).group_by(*keys))
    groups = conn.execute(stmt).all()
    return _derive(conn, f, groups)


def _derive(conn: Connection, f: UsageFilter, groups: list[Any]) -> Overview:
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
    latency, ttft = speed(conn, f, n, n_latency, n_ttft)
    totals = [sum(v[i] for v in tokens.values()) for i in range(1, 5)]
    summary = Summary(
        calls=n, errors=errors, error_rate=errors / n if n else 0.0, prompt_tokens=totals[0],
        completion_tokens=totals[1], total_tokens=totals[2], estimated_calls=totals[3],
        cost_by_currency=dict(sorted(by_currency.items())), latency_p50=latency[0],
        latency_p95=latency[1], ttft_p50=ttft[0], ttft_p95=ttft[1])
    cost_rows = sorted(({"period": p, "model": m, "currency": c, "cost": v[0], "calls": int(v[1])}
                        for (p, m, c), v in costs.items()),
                       key=lambda r: (r["period"], r["model"], r["currency"] or ""))
    token_rows = sorted(({"model": m, "calls": v[0], "prompt_tokens": v[1], "completion_tokens": v[2],
                          "total_tokens": v[3], "estimated_calls": v[4]} for m, v in tokens.items()),
                        key=lambda r: (-r["total_tokens"], r["model"]))
    outcome_rows = sorted(({"outcome": o, "error_kind": k, "error_code": c, "count": cnt}
                           for (o, k, c), cnt in outs.items()),
                          key=lambda r: (-r["count"], r["outcome"], r["error_kind"] or "",
                                         r["error_code"] or ""))
    return Overview(summary, cost_rows, token_rows, outcome_rows)

"""Usage per user, for a team deployment: what each user spent (the usage page's "by user" table)
and one user's totals since a moment (what a per-user limit checks).

Whole UTC days are read from the daily summaries, the rest from the calls, as in
core/usage_overview.py; the same figures as the calls alone give.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select

from core import usage_rollup as r
from core.usage_overview import day_where, split
from core.usage_queries import conditions
from core.usage_schema import UsageFilter, calls


@dataclass
class UserUsage:
    """One user's calls, tokens and cost (per currency) under a filter."""

    user_id: str
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_by_currency: dict[str, float] = field(default_factory=dict)


def _summary_rows(conn: Connection, f: UsageFilter, days: tuple[str | None, str | None]) -> list[Any]:
    d = r.daily
    priced = func.sum(d.c.priced_calls)
    stmt = (select(d.c.user_id, d.c.currency, func.sum(d.c.calls), func.sum(d.c.prompt_tokens),
                   func.sum(d.c.completion_tokens), func.sum(d.c.total_tokens),
                   case((priced > 0, func.sum(d.c.cost)), else_=None))
            .where(*day_where(d, days, f)).group_by(d.c.user_id, d.c.currency))
    return [(u, cur or None, *rest) for u, cur, *rest in conn.execute(stmt)]


def _raw_rows(conn: Connection, f: UsageFilter) -> list[Any]:
    stmt = (select(calls.c.user_id, calls.c.currency, func.count(), func.sum(calls.c.prompt_tokens),
                   func.sum(calls.c.completion_tokens), func.sum(calls.c.total_tokens),
                   func.sum(calls.c.cost))
            .where(*conditions(f)).group_by(calls.c.user_id, calls.c.currency))
    return conn.execute(stmt).all()


def by_user(conn: Connection, f: UsageFilter, summaries: bool = True) -> list[UserUsage]:
    """Each user's usage under the filter, most calls first."""
    days, parts = split(f) if summaries else (None, [f])
    rows = _summary_rows(conn, f, days) if days is not None else []
    for part in parts:
        rows += _raw_rows(conn, part)
    users: dict[str, UserUsage] = {}
    for user, currency, n, prompt, completion, total, cost in rows:
        mine = users.setdefault(user, UserUsage(user))
        mine.calls += int(n or 0)
        mine.prompt_tokens += int(prompt or 0)
        mine.completion_tokens += int(completion or 0)
        mine.total_tokens += int(total or 0)
        if currency is not None and cost is not None:
            mine.cost_by_currency[currency] = mine.cost_by_currency.get(currency, 0.0) + float(cost)
    return sorted(users.values(), key=lambda u: (-u.calls, u.user_id))


def user_since(conn: Connection, user_id: str, since: datetime, summaries: bool = True,
               payers: tuple[str, ...] = ()) -> UserUsage:
    """One user's usage from `since` (aware) on: the figures a limit is checked against (on the
    server's keys only with payers=("",))."""
    found = by_user(conn, UsageFilter(start=since, users=(user_id,), payers=payers), summaries)
    return found[0] if found else UserUsage(user_id)

"""core/usage_queries through Ledger: every figure on hand-built rows, against hand-computed values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from core.usage_ledger import Ledger, Summary, UsageFilter
from core.usage_queries import nearest_rank
from tests.test_usage_ledger import T0, _own_ledger_env, make_row  # noqa: F401 - fixture

H, D = timedelta(hours=1), timedelta(days=1)
# ids 1-6 in order; hand-computed sums: prompt 355, completion 175, total 530, CNY 0.71, USD 0.01.
ROWS = [
    make_row(ts=T0, session_id="s1", page="chat", backend="zhipu", model="glm-4-plus",
             prompt_tokens=100, completion_tokens=50, total_tokens=150, ttft_s=0.2, latency_s=1.0,
             cost=0.5, currency="CNY"),
    make_row(ts=T0 + H, session_id="s1", page="chat", backend="zhipu", model="glm-4-flash",
             prompt_tokens=10, completion_tokens=5, total_tokens=15, tokens_estimated=True, ttft_s=0.1,
             latency_s=0.4, cost=0.0, currency="CNY"),
    make_row(ts=T0 + D, session_id="s2", page="compare", backend="openai", endpoint="openai",
             base_url_host="api.openai.com", model="gpt-4o", prompt_tokens=200, completion_tokens=100,
             total_tokens=300, ttft_s=0.5, latency_s=2.2, cost=0.01, currency="USD"),
    make_row(ts=T0 + D + 2 * H, session_id="s2", page="chat", backend="openai", endpoint="openai",
             base_url_host="api.openai.com", model="gpt-4o", prompt_tokens=None, completion_tokens=None,
             total_tokens=None, ttft_s=None, latency_s=0.3, outcome="error", error_kind="auth",
             error_code="401", cost=None, currency=None),
    make_row(ts=T0 + 2 * D, session_id="s1", page="chat", backend="zhipu", model="glm-4-plus",
             prompt_tokens=40, completion_tokens=20, total_tokens=60, ttft_s=0.3, latency_s=1.6,
             outcome="stopped", cost=0.2, currency="CNY"),
    make_row(ts=T0 + 2 * D + timedelta(minutes=30), session_id="s3", page="retrieval", backend="zhipu",
             model="glm-4-plus", prompt_tokens=5, completion_tokens=0, total_tokens=5, ttft_s=None,
             latency_s=0.7, outcome="error", error_kind="quota", error_code="1113", cost=0.01,
             currency="CNY"),
]
ALL = UsageFilter()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(f"sqlite:///{tmp_path / 'q.sqlite'}")
    for row in ROWS:
        assert led.record(row)
    yield led
    led.close()


def ids(ledger: Ledger, f: UsageFilter) -> list[int]:
    return [r.id or 0 for r in ledger.rows(f)]


# ---- summary -------------------------------------------------------------------------------------
def test_summary_of_everything(ledger: Ledger) -> None:
    s = ledger.summary(ALL)
    assert (s.calls, s.errors, s.estimated_calls) == (6, 2, 1)
    assert s.error_rate == pytest.approx(2 / 6)
    assert (s.prompt_tokens, s.completion_tokens, s.total_tokens) == (355, 175, 530)
    assert s.cost_by_currency == pytest.approx({"CNY": 0.71, "USD": 0.01})
    # latencies sorted 0.3 0.4 0.7 1.0 1.6 2.2: p50 = 3rd (ceil(0.5*6)), p95 = 6th (ceil(0.95*6))
    assert (s.latency_p50, s.latency_p95) == (0.7, 2.2)
    # ttft (4 rows) sorted 0.1 0.2 0.3 0.5: p50 = 2nd, p95 = 4th
    assert (s.ttft_p50, s.ttft_p95) == (0.2, 0.5)


def test_summary_of_nothing(ledger: Ledger) -> None:
    s = ledger.summary(UsageFilter(models=("no-such-model",)))
    assert s == Summary(calls=0, errors=0, error_rate=0.0, prompt_tokens=0, completion_tokens=0,
                        total_tokens=0, estimated_calls=0, cost_by_currency={})


@pytest.mark.parametrize(("values", "p50", "p95"), [
    ([7.0], 7.0, 7.0),
    ([2.0, 1.0], 1.0, 2.0),
    ([float(v) for v in range(100, 0, -1)], 50.0, 95.0),
    ([float(v) for v in range(1, 21)], 10.0, 19.0),
    ([1.0, 1.0, 1.0, 9.0], 1.0, 9.0),
])
def test_percentiles_are_nearest_rank(values: list[float], p50: float, p95: float) -> None:
    led = Ledger("sqlite://")
    led.record_many([make_row(latency_s=v, ttft_s=v / 10, ts=T0 + timedelta(seconds=i))
                     for i, v in enumerate(values)])
    led.record(make_row(latency_s=None, ttft_s=None))  # no time: counted as a call, not a value
    s = led.summary(ALL)
    assert s.calls == len(values) + 1
    assert (s.latency_p50, s.latency_p95) == (p50, p95)
    assert (s.ttft_p50, s.ttft_p95) == pytest.approx((p50 / 10, p95 / 10))


def test_nearest_rank_index() -> None:
    assert [nearest_rank(1, 0.5), nearest_rank(1, 0.95)] == [0, 0]
    assert [nearest_rank(4, 0.5), nearest_rank(4, 0.95)] == [1, 3]
    assert [nearest_rank(100, 0.5), nearest_rank(100, 0.95), nearest_rank(100, 1.0)] == [49, 94, 99]


def test_wide_time_range_percentiles_equal_the_sorted_ones(tmp_path: Path) -> None:
    """A range with most rows walks the percentile index instead of sorting; same answers."""
    led = Ledger(f"sqlite:///{tmp_path / 'wide.sqlite'}")
    lat = [((i * 37) % 101) / 10 for i in range(400)]
    led.record_many([make_row(ts=T0 + timedelta(minutes=i), latency_s=v, ttft_s=v / 2)
                     for i, v in enumerate(lat)])
    for first, last in ((0, 400), (50, 350), (0, 60), (390, 400)):
        f = UsageFilter(start=T0 + timedelta(minutes=first), end=T0 + timedelta(minutes=last))
        chosen = sorted(lat[first:last])
        s = led.summary(f)
        assert s.calls == last - first
        assert s.latency_p50 == chosen[nearest_rank(len(chosen), 0.5)]
        assert s.latency_p95 == chosen[nearest_rank(len(chosen), 0.95)]
        assert s.ttft_p95 == pytest.approx(chosen[nearest_rank(len(chosen), 0.95)] / 2)
    led.close()


# ---- filters -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("f", "expected"), [
    (ALL, [6, 5, 4, 3, 2, 1]),
    (UsageFilter(start=T0 + D), [6, 5, 4, 3]),  # start inclusive
    (UsageFilter(end=T0 + D), [2, 1]),  # end exclusive
    (UsageFilter(start=T0 + H, end=T0 + D + 2 * H), [3, 2]),
    (UsageFilter(start=datetime(2026, 11, 20, 18, 30, tzinfo=timezone(timedelta(hours=8)))),
     [6, 5, 4, 3, 2]),  # 10:30 UTC
    (UsageFilter(backends=("openai",)), [4, 3]),
    (UsageFilter(models=("glm-4-plus",)), [6, 5, 1]),
    (UsageFilter(models=("glm-4-plus", "glm-4-flash")), [6, 5, 2, 1]),
    (UsageFilter(pages=("chat",)), [5, 4, 2, 1]),
    (UsageFilter(session_id="s1"), [5, 2, 1]),
    (UsageFilter(backends=("zhipu",), pages=("chat",), start=T0 + H), [5, 2]),
    (UsageFilter(session_id="nobody"), []),
])
def test_filters(ledger: Ledger, f: UsageFilter, expected: list[int]) -> None:
    assert ids(ledger, f) == expected
    assert ledger.count(f) == len(expected) == ledger.summary(f).calls


def test_rows_newest_first_with_limit_and_offset(ledger: Ledger) -> None:
    assert ids(ledger, ALL) == [6, 5, 4, 3, 2, 1]
    assert [r.id for r in ledger.rows(ALL, limit=2)] == [6, 5]
    assert [r.id for r in ledger.rows(ALL, limit=2, offset=3)] == [3, 2]
    assert ledger.rows(ALL, limit=5, offset=10) == []
    same_time = Ledger("sqlite://")
    same_time.record_many([make_row(prompt_tokens=i) for i in range(3)])
    assert [r.prompt_tokens for r in same_time.rows(ALL)] == [2, 1, 0]  # ties: last written first


def test_time_range(ledger: Ledger) -> None:
    assert ledger.time_range(ALL) == (T0, T0 + 2 * D + timedelta(minutes=30))
    assert ledger.time_range(UsageFilter(backends=("openai",))) == (T0 + D, T0 + D + 2 * H)
    assert ledger.time_range(UsageFilter(session_id="nobody")) == (None, None)


# ---- the page's groupings ------------------------------------------------------------------------
def test_cost_over_time_by_day(ledger: Ledger) -> None:
    got = ledger.cost_over_time(ALL, bucket="day")
    assert [{**r, "cost": round(r["cost"], 9)} for r in got] == [
        {"period": "2026-11-20", "model": "glm-4-flash", "currency": "CNY", "cost": 0.0, "calls": 1},
        {"period": "2026-11-20", "model": "glm-4-plus", "currency": "CNY", "cost": 0.5, "calls": 1},
        {"period": "2026-11-21", "model": "gpt-4o", "currency": None, "cost": 0.0, "calls": 1},
        {"period": "2026-11-21", "model": "gpt-4o", "currency": "USD", "cost": 0.01, "calls": 1},
        {"period": "2026-11-22", "model": "glm-4-plus", "currency": "CNY", "cost": 0.21, "calls": 2},
    ]


def test_cost_over_time_by_hour_and_filtered(ledger: Ledger) -> None:
    got = ledger.cost_over_time(UsageFilter(backends=("zhipu",)), bucket="hour")
    assert [(r["period"], r["model"], r["calls"], round(r["cost"], 9)) for r in got] == [
        ("2026-11-20 10", "glm-4-plus", 1, 0.5),
        ("2026-11-20 11", "glm-4-flash", 1, 0.0),
        ("2026-11-22 10", "glm-4-plus", 2, 0.21),
    ]
    with pytest.raises(ValueError):
        ledger.cost_over_time(ALL, bucket="week")


def test_tokens_by_model(ledger: Ledger) -> None:
    assert ledger.tokens_by_model(ALL) == [
        {"model": "gpt-4o", "calls": 2, "prompt_tokens": 200, "completion_tokens": 100,
         "total_tokens": 300, "estimated_calls": 0},
        {"model": "glm-4-plus", "calls": 3, "prompt_tokens": 145, "completion_tokens": 70,
         "total_tokens": 215, "estimated_calls": 0},
        {"model": "glm-4-flash", "calls": 1, "prompt_tokens": 10, "completion_tokens": 5,
         "total_tokens": 15, "estimated_calls": 1},
    ]
    assert ledger.tokens_by_model(UsageFilter(pages=("retrieval",))) == [
        {"model": "glm-4-plus", "calls": 1, "prompt_tokens": 5, "completion_tokens": 0,
         "total_tokens": 5, "estimated_calls": 0}]


def test_latency_histogram(ledger: Ledger) -> None:
    # glm-4-plus 1.0 1.6 0.7; glm-4-flash 0.4; gpt-4o 2.2 0.3 (bins: ... [0.3, 0.5) [0.5, 0.7) [0.7, 1)
    # [1, 1.5) [1.5, 2) [2, 3) ...)
    assert ledger.latency_histogram(ALL) == [
        {"model": "glm-4-flash", "bin": 5, "low": 0.3, "high": 0.5, "count": 1},
        {"model": "glm-4-plus", "bin": 7, "low": 0.7, "high": 1.0, "count": 1},
        {"model": "glm-4-plus", "bin": 8, "low": 1.0, "high": 1.5, "count": 1},
        {"model": "glm-4-plus", "bin": 9, "low": 1.5, "high": 2.0, "count": 1},
        {"model": "gpt-4o", "bin": 5, "low": 0.3, "high": 0.5, "count": 1},
        {"model": "gpt-4o", "bin": 10, "low": 2.0, "high": 3.0, "count": 1},
    ]
    assert ledger.latency_histogram(UsageFilter(models=("glm-4-plus",), pages=("chat",))) == [
        {"model": "glm-4-plus", "bin": 8, "low": 1.0, "high": 1.5, "count": 1},
        {"model": "glm-4-plus", "bin": 9, "low": 1.5, "high": 2.0, "count": 1},
    ]


def test_latency_histogram_bin_edges() -> None:
    """A bin is [low, high): a value on an edge counts in the bin above; the first bin starts at 0
    and the last one has no end."""
    led = Ledger("sqlite://")
    led.record_many([make_row(latency_s=v) for v in (0.0, 0.049, 0.05, 0.29, 0.3, 499.9, 500.0, 9000.0)]
                    + [make_row(latency_s=None)])
    got = {(r["low"], r["high"]): r["count"] for r in led.latency_histogram(ALL)}
    assert got == {(0.0, 0.05): 2, (0.05, 0.1): 1, (0.2, 0.3): 1, (0.3, 0.5): 1, (300.0, 500.0): 1,
                   (500.0, None): 2}


def test_outcomes(ledger: Ledger) -> None:
    assert ledger.outcomes(ALL) == [
        {"outcome": "ok", "error_kind": None, "error_code": None, "count": 3},
        {"outcome": "error", "error_kind": "auth", "error_code": "401", "count": 1},
        {"outcome": "error", "error_kind": "quota", "error_code": "1113", "count": 1},
        {"outcome": "stopped", "error_kind": None, "error_code": None, "count": 1},
    ]
    assert ledger.outcomes(UsageFilter(session_id="s3")) == [
        {"outcome": "error", "error_kind": "quota", "error_code": "1113", "count": 1}]


def test_distinct_values(ledger: Ledger) -> None:
    assert ledger.distinct_values() == {
        "backends": ["openai", "zhipu"],
        "models": ["glm-4-flash", "glm-4-plus", "gpt-4o"],
        "pages": ["chat", "compare", "retrieval"],
        "users": [""],  # no sign-in: every call by the anonymous user
    }
    assert Ledger("sqlite://").distinct_values() == {"backends": [], "models": [], "pages": [], "users": []}


def test_data_version_changes_with_the_ledger(ledger: Ledger) -> None:
    before = ledger.data_version()
    assert before[:2] == (6, 6)
    ledger.record(make_row())
    after_insert = ledger.data_version()
    assert after_insert[:2] == (7, 7)
    ledger.recompute_costs(lambda model, prompt, completion: (1.0, "CNY"))
    assert ledger.data_version()[2] == after_insert[2] + 1


# ---- re-pricing ----------------------------------------------------------------------------------
def glm_price(model: str, prompt: int | None, completion: int | None) -> tuple[float, str] | None:
    if not model.startswith("glm"):
        return None
    return ((prompt or 0) + (completion or 0)) / 100, "CNY"


def test_recompute_costs(ledger: Ledger) -> None:
    seen: list[tuple[str, int | None, int | None]] = []

    def price(model: str, prompt: int | None, completion: int | None) -> tuple[float, str] | None:
        seen.append((model, prompt, completion))
        return glm_price(model, prompt, completion)

    # Rows 1 2 5 6 get a new CNY price, row 3 (gpt-4o, 0.01 USD) loses its price, row 4 had none.
    assert ledger.recompute_costs(price) == 5
    assert ("gpt-4o", None, None) in seen and ("glm-4-plus", 100, 50) in seen
    assert [(r.cost, r.currency) for r in reversed(ledger.rows(ALL))] == [
        (1.5, "CNY"), (0.15, "CNY"), (None, None), (None, None), (0.6, "CNY"), (0.05, "CNY")]
    assert ledger.summary(ALL).cost_by_currency == pytest.approx({"CNY": 2.3})
    assert ledger.recompute_costs(glm_price) == 0  # the same prices again change nothing


def _raise() -> Any:
    raise RuntimeError("no idea")


@pytest.mark.parametrize("failure", [_raise, lambda: (float("nan"), "USD"), lambda: ("cheap",),
                                     lambda: ("not a number", "USD")])
def test_recompute_costs_leaves_a_row_whose_price_fails(ledger: Ledger, failure: Any) -> None:
    def price(model: str, prompt: int | None, completion: int | None) -> tuple[float, str] | None:
        if model == "gpt-4o":
            return failure()
        return glm_price(model, prompt, completion)

    assert ledger.recompute_costs(price) == 4
    (gpt_priced,) = [r for r in ledger.rows(UsageFilter(models=("gpt-4o",))) if r.cost is not None]
    assert (gpt_priced.cost, gpt_priced.currency) == (0.01, "USD")


def test_recompute_costs_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.usage_ledger as usage_ledger

    monkeypatch.setattr(usage_ledger, "REPRICE_BATCH", 7)
    led = Ledger("sqlite://")
    led.record_many([make_row(prompt_tokens=i, completion_tokens=0, cost=None, currency=None)
                     for i in range(30)])
    assert led.recompute_costs(lambda m, p, c: (float(p or 0), "USD")) == 30
    assert led.summary(ALL).cost_by_currency == {"USD": float(sum(range(30)))}


def test_rows_keep_aware_utc_times(ledger: Ledger) -> None:
    rows = ledger.rows(ALL)
    assert all(r.ts.tzinfo is UTC for r in rows)
    assert rows[-1].ts == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


# ---- portable SQL: every query also compiles for PostgreSQL ---------------------------------------
class _Result:
    def __init__(self, width: int) -> None:
        self.width = width

    def one(self) -> tuple[None, ...]:
        return (None,) * self.width

    def all(self) -> list[Any]:
        return []

    def scalar(self) -> None:
        return None

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def mappings(self) -> list[Any]:
        return []

    def scalars(self) -> list[Any]:
        return []


class _PostgresCompiler:
    """Stands in for a connection: compiles every statement for PostgreSQL, returns no rows."""

    def __init__(self) -> None:
        from sqlalchemy.dialects import postgresql

        self.dialect = postgresql.dialect()
        self.sql: list[str] = []

    def execute(self, stmt: Any, params: Any = None) -> _Result:
        self.sql.append(str(stmt.compile(dialect=self.dialect)))
        return _Result(len(getattr(stmt, "selected_columns", ())))


def test_every_query_compiles_for_postgresql() -> None:
    from sqlalchemy import create_mock_engine

    from core import usage_queries as q
    from core.usage_schema import calls, metadata

    ddl: list[str] = []
    engine = create_mock_engine("postgresql+psycopg://", lambda sql, *a, **k: ddl.append(
        str(sql.compile(dialect=engine.dialect))))
    metadata.create_all(engine, checkfirst=False)
    assert any("CREATE TABLE usage_calls" in s for s in ddl) and sum("CREATE INDEX" in s for s in ddl) >= 2
    conn = _PostgresCompiler()
    f = UsageFilter(start=T0, end=T0 + D, backends=("zhipu",), models=("m",), pages=("chat",),
                    session_id="s")
    for run in (lambda: q.summary(conn, f), lambda: q.cost_over_time(conn, f, "day"),
                lambda: q.cost_over_time(conn, f, "hour"), lambda: q.tokens_by_model(conn, f),
                lambda: q.outcomes(conn, f),
                lambda: q.rows(conn, f, 10, 5), lambda: q.count(conn, f), lambda: q.time_range(conn, f),
                lambda: q.distinct_values(conn),
                lambda: q.percentiles(conn, calls.c.latency_s, q.conditions(f), 10)):
        run()
    text = "\n".join(conn.sql)
    assert "likely(" not in text  # the SQLite planner hint is for SQLite only
    assert "ORDER BY usage_calls.latency_s \n LIMIT %(param_1)s::INTEGER OFFSET %(param_2)s::INTEGER" in text

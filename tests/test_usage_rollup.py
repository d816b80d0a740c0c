"""core/usage_rollup: the daily summaries stay equal to the calls they summarise, and the page's
figures read through them are the same as those read from the calls alone."""

from __future__ import annotations

import random
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from core import usage_queries as q
from core import usage_rollup as r
from core.usage_ledger import Ledger, UsageFilter, UsageRow
from core.usage_overview import latency_histogram, overview, split
from tests.test_usage_ledger import JOIN_S, _own_ledger_env, make_row  # noqa: F401 - fixture
from tests.test_usage_ledger_queries import _PostgresCompiler

T0 = datetime(2026, 10, 1, tzinfo=UTC)
MODELS = (("zhipu", "glm-4-plus", "CNY"), ("zhipu", "glm-4-flash", None), ("openai", "gpt-4o", "USD"))
OUTCOMES = (("ok", None, None),) * 6 + (("stopped", None, None), ("error", "quota", "1113"),
                                       ("error", "timeout", None))


def random_rows(n: int, seed: int = 3, days: int = 20) -> list[UsageRow]:
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        backend, model, currency = rnd.choice(MODELS)
        outcome, kind, code = rnd.choice(OUTCOMES)
        latency = None if rnd.random() < 0.05 else rnd.choice(
            (round(rnd.lognormvariate(0.2, 0.9), 3), 0.05, 1.0, 500.0, 0.0))
        prompt = None if rnd.random() < 0.03 else rnd.randint(0, 3000)
        rows.append(make_row(
            ts=T0 + timedelta(seconds=rnd.uniform(0, days * 86400)), session_id=rnd.choice("abc"),
            page=rnd.choice(("chat", "compare", "retrieval")), backend=backend, model=model,
            prompt_tokens=prompt, completion_tokens=rnd.randint(0, 900), total_tokens=rnd.randint(0, 4000),
            tokens_estimated=rnd.random() < 0.1, latency_s=latency,
            ttft_s=None if latency is None or kind else round(latency * rnd.random(), 4),
            outcome=outcome, error_kind=kind, error_code=code,
            cost=None if currency is None else rnd.uniform(0, 0.02), currency=currency,
            paid_by=rnd.choice(("", "", "user"))))
    return rows


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Any:
    led = Ledger(f"sqlite:///{tmp_path_factory.mktemp('rollup') / 'r.sqlite'}")
    rows = random_rows(3000)
    for i in range(0, len(rows), 250):  # many batches: the summaries are added to, not rebuilt
        assert led.record_many(rows[i:i + 250]) == 250
    yield led
    led.close()


SHANGHAI = timezone(timedelta(hours=8))
FILTERS = [
    UsageFilter(),
    UsageFilter(start=T0 + timedelta(days=3), end=T0 + timedelta(days=10)),  # whole days only
    UsageFilter(start=datetime(2026, 10, 4, tzinfo=SHANGHAI), end=datetime(2026, 10, 15, tzinfo=SHANGHAI)),
    UsageFilter(start=T0 + timedelta(days=2, hours=5, minutes=7), end=T0 + timedelta(days=2, hours=20)),
    UsageFilter(start=T0 + timedelta(days=5, hours=3)),
    UsageFilter(end=T0 + timedelta(days=9, hours=13)),
    UsageFilter(start=T0 + timedelta(days=1, hours=1), end=T0 + timedelta(days=18, hours=2),
                backends=("openai",)),
    UsageFilter(start=T0 + timedelta(days=4), models=("glm-4-plus", "glm-4-flash"), pages=("chat",)),
    UsageFilter(pages=("retrieval",), end=T0 + timedelta(days=12, minutes=1)),
    UsageFilter(session_id="b", start=T0 + timedelta(days=2)),
    UsageFilter(start=T0 + timedelta(days=1, hours=6), end=T0 + timedelta(days=9), payers=("",)),
    UsageFilter(payers=("user",), models=("glm-4-plus",)),
    UsageFilter(start=T0 + timedelta(days=40)),  # nothing in range
]


@pytest.mark.parametrize("flt", FILTERS, ids=range(len(FILTERS)))
def test_figures_through_the_summaries_equal_the_calls_alone(ledger: Ledger, flt: UsageFilter) -> None:
    with ledger.engine.connect() as conn:
        fast = overview(conn, flt, "day", summaries=True)
        slow = overview(conn, flt, "day", summaries=False)
        reference = q.summary(conn, flt)  # the plain queries over the calls
        assert latency_histogram(conn, flt, True) == latency_histogram(conn, flt, False)
    for view in (fast, slow):
        for name in ("calls", "errors", "prompt_tokens", "completion_tokens", "total_tokens",
                     "estimated_calls", "latency_p50", "latency_p95", "ttft_p50", "ttft_p95"):
            assert getattr(view.summary, name) == getattr(reference, name), name
        assert view.summary.cost_by_currency == pytest.approx(reference.cost_by_currency, rel=1e-9)
    assert fast.tokens_by_model == slow.tokens_by_model
    assert fast.outcomes == slow.outcomes
    assert fast.latency_histogram == slow.latency_histogram
    assert [(c["period"], c["model"], c["currency"], c["calls"]) for c in fast.cost_over_time] == \
        [(c["period"], c["model"], c["currency"], c["calls"]) for c in slow.cost_over_time]
    assert [c["cost"] for c in fast.cost_over_time] == pytest.approx([c["cost"] for c in slow.cost_over_time])
    if flt == UsageFilter():
        assert fast.summary.calls == 3000 and fast.latency_histogram


def test_the_whole_days_and_the_partial_ends() -> None:
    whole, parts = split(UsageFilter(start=datetime(2026, 10, 4, tzinfo=SHANGHAI),
                                     end=datetime(2026, 10, 6, 12, tzinfo=SHANGHAI)))
    # Shanghai midnight of the 4th is 16:00 UTC on the 3rd; 12:00 on the 6th is 04:00 UTC.
    assert whole == ("2026-10-04", "2026-10-06")
    assert [(p.start, p.end) for p in parts] == [
        (datetime(2026, 10, 3, 16, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC)),
        (datetime(2026, 10, 6, tzinfo=UTC), datetime(2026, 10, 6, 4, tzinfo=UTC))]
    assert split(UsageFilter(start=T0, end=T0 + timedelta(days=2))) == (("2026-10-01", "2026-10-03"), [])
    assert split(UsageFilter()) == ((None, None), [])
    inside = UsageFilter(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=30))
    assert split(inside) == (None, [inside])  # no whole day: the calls alone
    own = UsageFilter(session_id="s", start=T0)
    assert split(own) == (None, [own])


def _tables(ledger: Ledger) -> tuple[list[Any], list[Any]]:
    with ledger.engine.connect() as conn:
        days = conn.execute(select(r.daily).order_by(*r.daily.primary_key.columns)).all()
        bins = conn.execute(select(r.latency_daily).order_by(*r.latency_daily.primary_key.columns)).all()
    return days, bins


def _same_days(a: list[Any], b: list[Any]) -> None:
    assert len(a) == len(b)
    cost = list(r.daily.columns.keys()).index("cost")
    for x, y in zip(a, b, strict=True):
        assert x[:cost] + x[cost + 1:] == y[:cost] + y[cost + 1:]
        assert x[cost] == pytest.approx(y[cost], rel=1e-9, abs=1e-12)


def test_added_up_summaries_equal_a_rebuild_from_the_calls(ledger: Ledger) -> None:
    days, bins = _tables(ledger)
    with ledger.engine.begin() as conn:
        r.rebuild(conn)
    again, bins_again = _tables(ledger)
    _same_days(days, again)
    assert bins == bins_again
    assert sum(row.calls for row in days) == 3000


def test_the_upsert_without_on_conflict_adds_the_same(tmp_path: Path) -> None:
    rows = random_rows(400, seed=11)
    native = Ledger(f"sqlite:///{tmp_path / 'native.sqlite'}")
    native.record_many(rows[:200])
    native.record_many(rows[200:])
    generic = Ledger(f"sqlite:///{tmp_path / 'generic.sqlite'}")
    from core.usage_schema import to_db

    for batch in (rows[:200], rows[200:]):
        day_rows, bin_rows = r.deltas([to_db(row) for row in batch])
        with generic.engine.begin() as conn:
            r.add_generic(conn, r.daily, r.DAILY_KEYS, day_rows)
            r.add_generic(conn, r.latency_daily, r.LATENCY_KEYS, bin_rows)
    a, b = _tables(native), _tables(generic)
    _same_days(a[0], b[0])
    assert a[1] == b[1]


def test_an_existing_ledger_gets_its_summaries_when_opened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = Ledger(url)
    old.record_many(random_rows(500, seed=5))
    with old.engine.begin() as conn:  # as a ledger written before the summaries existed
        conn.execute(text("DROP TABLE usage_daily"))
        conn.execute(text("DROP TABLE usage_latency_daily"))
        conn.execute(text("DROP TABLE usage_meta"))
    old.close()
    reopened = Ledger(url)
    days, _bins = _tables(reopened)
    assert sum(row.calls for row in days) == 500
    with reopened.engine.connect() as conn:
        assert r.is_current(conn)
        flt = UsageFilter(start=T0 + timedelta(days=1, hours=7), end=T0 + timedelta(days=15))
        fast, slow = overview(conn, flt).summary, overview(conn, flt, summaries=False).summary
    assert fast.calls > 0 and replace(fast, cost_by_currency={}) == replace(slow, cost_by_currency={})
    assert fast.cost_by_currency == pytest.approx(slow.cost_by_currency, rel=1e-9)
    reopened.close()


def test_repricing_updates_the_daily_costs(tmp_path: Path) -> None:
    led = Ledger(f"sqlite:///{tmp_path / 'p.sqlite'}")
    led.record_many(random_rows(300, seed=8))
    assert led.recompute_costs(lambda model, p, c: (((p or 0) + (c or 0)) / 1e6, "USD")) > 0
    whole = UsageFilter(start=T0, end=T0 + timedelta(days=30))
    with led.engine.connect() as conn:
        expected = q.summary(conn, whole).cost_by_currency
    assert set(expected) == {"USD"}
    assert led.overview(whole).summary.cost_by_currency == pytest.approx(expected, rel=1e-9)
    led.close()


def test_percentiles_stay_exact_when_the_summaries_disagree(tmp_path: Path) -> None:
    led = Ledger(f"sqlite:///{tmp_path / 'd.sqlite'}")
    led.record_many(random_rows(200, seed=9))
    with led.engine.begin() as conn:  # e.g. a row written by hand with SQL
        conn.execute(update(r.latency_daily).values(latency_07=r.latency_daily.c.latency_07 + 5))
    flt = UsageFilter(start=T0, end=T0 + timedelta(days=25))
    with led.engine.connect() as conn:
        reference = q.summary(conn, flt)
    got = led.summary(flt)
    assert (got.latency_p50, got.latency_p95) == (reference.latency_p50, reference.latency_p95)
    led.close()


def test_without_summaries_the_ledger_reads_the_calls(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(conn: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(r, "rebuild", broken)
    led = Ledger(f"sqlite:///{tmp_path / 'n.sqlite'}")  # a new ledger: its summaries cannot be built
    assert led.record_many(random_rows(100, seed=2)) == 100
    with led.engine.connect() as conn:
        reference = q.summary(conn, UsageFilter())
    got = led.summary(UsageFilter())
    assert replace(got, cost_by_currency={}) == replace(reference, cost_by_currency={})
    assert got.cost_by_currency == pytest.approx(reference.cost_by_currency, rel=1e-9)
    led.close()


def test_threads_writing_at_once_keep_the_summaries_whole(tmp_path: Path) -> None:
    led = Ledger(f"sqlite:///{tmp_path / 't.sqlite'}")
    rows = random_rows(8 * 60, seed=4)
    threads = [threading.Thread(target=lambda part=rows[i::8]: [led.record(row) for row in part])
               for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(JOIN_S)
    days, bins = _tables(led)
    assert sum(row.calls for row in days) == len(rows)
    first = len(r.LATENCY_KEYS)
    timed = sum(row.latency_s is not None for row in rows)
    assert sum(sum(row[first:first + r.N_BINS]) for row in bins) == timed
    led.close()


def test_a_bin_is_low_inclusive_high_exclusive() -> None:
    assert r.bin_of(0.0) == 0 and r.bin_of(0.0499) == 0 and r.bin_of(0.05) == 1
    assert r.bin_bounds(0) == (None, 0.05) and r.bin_bounds(r.N_BINS - 1) == (500.0, None)
    for i in range(1, r.N_BINS - 1):
        low, high = r.bin_bounds(i)
        assert r.bin_of(low) == i and r.bin_of(high) == i + 1


def test_summary_sql_compiles_for_postgresql() -> None:
    conn: Any = _PostgresCompiler()
    from core.usage_schema import to_db

    r.record(conn, [to_db(row) for row in random_rows(5)])
    r.rebuild(conn)
    flt = UsageFilter(start=datetime(2026, 10, 4, tzinfo=SHANGHAI), end=T0 + timedelta(days=9),
                      backends=("zhipu",), pages=("chat",))
    overview(conn, flt)
    latency_histogram(conn, flt)
    sql = "\n".join(conn.sql)
    keys = "day, model, currency, outcome, error_kind, error_code, backend, page, user_id, paid_by"
    assert f"ON CONFLICT ({keys}) DO UPDATE" in sql
    assert "usage_latency_daily" in sql and "likely(" not in sql

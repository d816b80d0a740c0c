"""The ledger per user (team deployments), calls on a user's own key, and the upgrade of ledgers
written before users or before paid_by."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import usage_rollup as r
from core.chat import ChatRecord, ChatRequest
from core.limits import SERVER_KEY
from core.usage_ledger import Ledger, UsageFilter
from core.usage_recording import CallContext, usage_row
from core.usage_schema import PAID_BY_USER
from tests.test_usage_ledger import _own_ledger_env, make_row  # noqa: F401 - fixture

T0 = datetime(2026, 11, 1, tzinfo=UTC)
H = timedelta(hours=1)


def _rows() -> list:
    return [make_row(ts=T0 + i * 7 * H, user_id=user, prompt_tokens=10 * (i + 1), completion_tokens=i,
                     total_tokens=11 * i + 10, cost=0.5 * (i + 1), currency="CNY" if i % 3 else "USD")
            for i, user in enumerate(["ann", "bob", "ann", "", "ann", "bob", "ann", "cy"])]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    led = Ledger(f"sqlite:///{tmp_path / 'u.sqlite'}")
    assert led.record_many(_rows()) == 8
    return led


def test_rows_and_filters_carry_the_user(ledger: Ledger) -> None:
    assert [row.user_id for row in ledger.rows(UsageFilter(users=("bob",)))] == ["bob", "bob"]
    assert ledger.summary(UsageFilter(users=("ann",))).calls == 4
    assert ledger.summary(UsageFilter(users=("ann", ""))).calls == 5
    assert ledger.distinct_values()["users"] == ["", "ann", "bob", "cy"]


@pytest.mark.parametrize("flt", [UsageFilter(), UsageFilter(start=T0 + 5 * H, end=T0 + 40 * H),
                                 UsageFilter(start=T0 + 24 * H), UsageFilter(users=("ann",))])
def test_usage_by_user_equals_each_users_rows(ledger: Ledger, flt: UsageFilter) -> None:
    got = {u.user_id: u for u in ledger.by_user(flt)}
    for user, mine in got.items():
        rows = ledger.rows(UsageFilter(start=flt.start, end=flt.end, users=(user,)))
        rows = [row for row in rows if not flt.users or row.user_id in flt.users]
        assert mine.calls == len(rows)
        assert mine.total_tokens == sum(row.total_tokens or 0 for row in rows)
        by_cur: dict[str, float] = {}
        for row in rows:
            by_cur[row.currency] = by_cur.get(row.currency, 0.0) + row.cost
        assert mine.cost_by_currency == pytest.approx(by_cur)
    assert sum(u.calls for u in got.values()) == ledger.summary(flt).calls
    listed = ledger.by_user(flt)
    assert [u.calls for u in listed] == sorted((u.calls for u in listed), reverse=True)


def test_one_users_usage_since_a_moment(ledger: Ledger) -> None:
    # ann's calls: i = 0, 2, 4, 6 at 0 h, 14 h, 28 h, 42 h
    since = ledger.user_since("ann", T0 + 14 * H)
    assert since.calls == 3 and since.prompt_tokens == 30 + 50 + 70
    assert since.cost_by_currency == pytest.approx({"CNY": 1.5 + 2.5, "USD": 3.5})
    assert ledger.user_since("nobody", T0).calls == 0


def test_a_recorded_call_names_its_user(ledger: Ledger) -> None:
    context = CallContext(session_id="s", page="chat", backend="zhipu", endpoint="zhipu",
                          base_url="https://open.bigmodel.cn/api/paas/v4", user_id="dee@example.com")
    row = usage_row(context, ChatRequest(model="glm-4-flash", messages=[{"role": "user", "content": "hi"}]),
                    ChatRecord(model="glm-4-flash", text="hello"), None)
    assert row.user_id == "dee@example.com"
    assert ledger.record(row)
    assert ledger.by_user(UsageFilter(users=("dee@example.com",)))[0].calls == 1


def test_a_ledger_from_before_users_is_upgraded_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    led = Ledger(f"sqlite:///{path}")
    assert led.record_many(_rows()[:5]) == 5
    led.close()
    with sqlite3.connect(path) as db:  # as the first version wrote it: no user column, v1 summaries
        db.execute("DROP INDEX ix_usage_calls_user_ts")
        db.execute("ALTER TABLE usage_calls DROP COLUMN user_id")
        db.execute("ALTER TABLE usage_calls DROP COLUMN paid_by")
        db.execute("DROP TABLE usage_daily")
        db.execute("CREATE TABLE usage_daily (day VARCHAR(10), model VARCHAR(255), calls INTEGER)")
        db.execute("INSERT INTO usage_daily VALUES ('2026-11-01', 'glm-4-plus', 999)")
        db.execute("UPDATE usage_meta SET value = '1'")
    upgraded = Ledger(f"sqlite:///{path}")
    assert upgraded.summary(UsageFilter()).calls == 5  # summaries rebuilt, not the stale 999
    assert {(row.user_id, row.paid_by) for row in upgraded.rows(UsageFilter())} == {("", "")}
    assert upgraded.record(make_row(ts=T0 + 100 * H, user_id="eve"))
    assert [u.user_id for u in upgraded.by_user(UsageFilter())] == ["", "eve"]
    with sqlite3.connect(path) as db:
        indexes = {row[1] for row in db.execute("PRAGMA index_list(usage_calls)")}
        version = db.execute("SELECT value FROM usage_meta").fetchone()[0]
    assert "ix_usage_calls_user_ts" in indexes and version == r.ROLLUP_VERSION
    upgraded.close()
    again = Ledger(f"sqlite:///{path}")  # opening an up-to-date ledger changes nothing
    assert again.summary(UsageFilter()).calls == 6
    again.close()


def test_a_ledger_from_before_paid_by_counts_its_calls_as_on_the_servers_key(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    led = Ledger(f"sqlite:///{path}")
    assert led.record_many(_rows()) == 8
    led.close()
    with sqlite3.connect(path) as db:  # as version 2 wrote it: users, but no paid_by anywhere
        db.execute("ALTER TABLE usage_calls DROP COLUMN paid_by")
        for table in ("usage_daily", "usage_latency_daily"):
            db.execute(f"DROP TABLE {table}")
        db.execute("CREATE TABLE usage_daily (day VARCHAR(10), user_id VARCHAR(255), calls INTEGER)")
        db.execute("UPDATE usage_meta SET value = '2'")
    upgraded = Ledger(f"sqlite:///{path}")
    assert upgraded.user_since("ann", T0, SERVER_KEY).calls == 4  # every old call: the server's key
    assert upgraded.record(make_row(ts=T0 + 50 * H, user_id="ann", paid_by=PAID_BY_USER, total_tokens=7))
    assert upgraded.user_since("ann", T0, SERVER_KEY).calls == 4
    assert upgraded.user_since("ann", T0).calls == 5
    upgraded.close()


@pytest.mark.parametrize("since_h", [0, 5, 24])  # whole days from the summaries, or partial ones
def test_usage_on_the_servers_key_leaves_out_the_users_own_key(tmp_path: Path, since_h: int) -> None:
    led = Ledger(f"sqlite:///{tmp_path / 'p.sqlite'}")
    rows = [replace(row, paid_by=PAID_BY_USER if i % 2 else "") for i, row in enumerate(_rows())]
    assert led.record_many(rows) == 8
    since = T0 + since_h * H
    for payers in ((), SERVER_KEY, (PAID_BY_USER,)):
        want = [row for row in rows if row.user_id == "ann" and row.ts >= since
                and (not payers or row.paid_by in payers)]
        got = led.user_since("ann", since, payers)
        assert (got.calls, got.total_tokens) == (len(want), sum(row.total_tokens for row in want))
    led.close()

"""Per-user limits: how they are read, and exactly where a call stops being sent (a real ledger)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.access import AccessConfigError
from core.config import Settings
from core.error_text import explain
from core.errors import ErrorKind, PlaygroundError
from core.i18n import t
from core.limits import (
    COST_PER_MONTH,
    RPM,
    SERVER_KEY,
    TOKENS_PER_DAY,
    LimitConfig,
    Limits,
    check,
    load_limits,
    message_params,
)
from core.usage_ledger import Ledger, UsageFilter
from core.usage_schema import PAID_BY_USER
from tests.test_usage_ledger import make_row

NOW = datetime(2026, 11, 21, 10, 30, 0, tzinfo=UTC)
S = timedelta(seconds=1)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    led = Ledger(f"sqlite:///{tmp_path / 'limits.sqlite'}")
    yield led
    led.close()


def calls(ledger: Ledger, user: str, times: list[datetime], tokens: int = 150, cost: float | None = 0.0075,
          currency: str | None = "CNY", paid_by: str = "") -> None:
    assert ledger.record_many([make_row(ts=ts, user_id=user, prompt_tokens=tokens - tokens // 3,
                                        completion_tokens=tokens // 3, total_tokens=tokens, cost=cost,
                                        currency=currency, paid_by=paid_by) for ts in times]) == len(times)


def said(params: dict, lang: str) -> str:
    """The refusal as the chat page shows it (the one error vocabulary)."""
    return explain(PlaygroundError(ErrorKind.VALIDATION, params=params), lang).fix


def config(**limits: object) -> LimitConfig:
    return LimitConfig(default=Limits(**limits))


# ---- reading the limits ---------------------------------------------------------------------------
def test_limits_come_from_secrets_with_per_user_overrides() -> None:
    cfg = load_limits(Settings(env={}, secrets={"limits": {
        "requests_per_minute": 10, "tokens_per_day": "200,000", "cost_per_month": 50, "currency": "rmb",
        "timezone": "Asia/Shanghai",
        "users": {"Alice@Example.com": {"tokens_per_day": 1_000_000}, "bob": {"cost_per_month": "unlimited"},
                  "intern": {"requests_per_minute": 0}}}}))
    assert cfg.configured and cfg.currency == "CNY" and cfg.timezone == "Asia/Shanghai"
    assert cfg.default == Limits(10, 200_000, 50.0)
    assert cfg.for_user("alice@example.com") == Limits(10, 1_000_000, 50.0)
    assert cfg.for_user("bob") == Limits(10, 200_000, None)
    assert cfg.for_user("intern").requests_per_minute == 0
    assert cfg.for_user("") == cfg.default and cfg.for_user("someone") == cfg.default


def test_the_environment_beats_secrets_and_nothing_set_is_no_limit() -> None:
    assert not load_limits(Settings(env={}, secrets={})).configured
    env = {"PLAYGROUND_LIMIT_RPM": "3", "PLAYGROUND_LIMIT_COST_PER_MONTH": "12.5",
           "PLAYGROUND_LIMIT_CURRENCY": "USD", "PLAYGROUND_LIMIT_TZ": "Europe/Berlin"}
    cfg = load_limits(Settings(env=env,
                               secrets={"limits": {"requests_per_minute": 10, "tokens_per_day": 5}}))
    assert cfg.default == Limits(3, 5, 12.5)
    assert (cfg.currency, cfg.timezone) == ("USD", "Europe/Berlin")


@pytest.mark.parametrize(("env", "section", "where", "key"), [
    ({}, {"requests_per_minute": 2.5}, "[limits] requests_per_minute",
     "limits.config.bad_requests_per_minute"),
    ({}, {"tokens_per_day": "lots"}, "[limits] tokens_per_day", "limits.config.bad_tokens_per_day"),
    ({}, {"cost_per_month": -1}, "[limits] cost_per_month", "limits.config.bad_cost_per_month"),
    ({}, {"cost_per_month": True}, "[limits] cost_per_month", "limits.config.bad_cost_per_month"),
    ({}, {"tokens_per_dya": 5}, "[limits] tokens_per_dya", "limits.config.unknown_key"),
    ({}, {"currency": "EUR"}, "[limits] currency", "limits.config.bad_currency"),
    ({}, {"timezone": "Mars/Olympus"}, "[limits] timezone", "limits.config.bad_timezone"),
    ({"PLAYGROUND_LIMIT_RPM": "ten"}, {}, "PLAYGROUND_LIMIT_RPM", "limits.config.bad_requests_per_minute"),
    ({}, {"users": {"bob": {"rpm": 3}}}, '[limits.users."bob"] rpm', "limits.config.unknown_key"),
    ({}, {"users": {"bob": 3}}, '[limits.users."bob"]', "access.config.not_table"),
    ({}, {"users": {"bob": {"tokens_per_day": "x"}}}, '[limits.users."bob"] tokens_per_day',
     "limits.config.bad_tokens_per_day"),
])
def test_a_limit_that_does_not_parse_names_its_key(env: dict, section: dict, where: str, key: str) -> None:
    with pytest.raises(AccessConfigError) as err:
        load_limits(Settings(env=env, secrets={"limits": section}))
    assert (err.value.where, err.value.key) == (where, key)
    for lang in ("en", "zh"):
        assert t(err.value.key, lang, **err.value.params) != err.value.key


# ---- the edges ------------------------------------------------------------------------------------
def test_requests_per_minute_edge(ledger: Ledger) -> None:
    cfg = config(requests_per_minute=3)
    calls(ledger, "ann", [NOW - 50 * S, NOW - 20 * S])
    assert check("ann", ledger, NOW, cfg) is None  # 2 in the last minute: the 3rd may go
    calls(ledger, "ann", [NOW - 5 * S])
    over = check("ann", ledger, NOW, cfg)  # 3 = the limit: a 4th would pass it
    assert over is not None and (over.limit, over.used, over.allowed) == (RPM, 3, 3)
    assert over.resets_at == NOW + 10 * S  # when the call of 50 s ago leaves the window
    assert check("ann", ledger, over.resets_at - timedelta(microseconds=1), cfg) is not None
    assert check("ann", ledger, over.resets_at, cfg) is None  # exactly then, one more may go
    assert check("bob", ledger, NOW, cfg) is None  # each user has their own minute


def test_calls_on_the_users_own_key_count_toward_no_limit(ledger: Ledger) -> None:
    """Recorded, but the team's budget is untouched: requests, tokens and cost on a typed key."""
    cfg = config(requests_per_minute=2, tokens_per_day=1000, cost_per_month=1.0)
    calls(ledger, "ann", [NOW - 30 * S, NOW - 20 * S, NOW - 10 * S], tokens=5000, cost=9.0,
          paid_by=PAID_BY_USER)
    assert check("ann", ledger, NOW, cfg) is None
    assert ledger.count(UsageFilter(users=("ann",))) == 3  # still in the ledger, for the usage page
    calls(ledger, "ann", [NOW - 5 * S, NOW - 4 * S], tokens=10, cost=0.01)  # on the server's key
    over = check("ann", ledger, NOW, cfg)
    assert over is not None and (over.limit, over.used) == (RPM, 2)
    later = NOW + timedelta(minutes=5)
    calls(ledger, "ann", [later - timedelta(minutes=1)], tokens=980, cost=0.01)
    over = check("ann", ledger, later, cfg)
    assert over is not None and (over.limit, over.used) == (TOKENS_PER_DAY, 1000)  # 10 + 10 + 980
    summed = ledger.user_since("ann", NOW - timedelta(hours=1), SERVER_KEY)
    assert summed.calls == 3 and summed.total_tokens == 1000
    assert ledger.user_since("ann", NOW - timedelta(hours=1)).calls == 6


def test_a_call_exactly_a_minute_old_has_left_the_window(ledger: Ledger) -> None:
    cfg = config(requests_per_minute=1)
    calls(ledger, "ann", [NOW - 60 * S])
    assert check("ann", ledger, NOW, cfg) is None
    calls(ledger, "ann", [NOW - 60 * S + timedelta(microseconds=1)])
    over = check("ann", ledger, NOW, cfg)
    assert over is not None and over.resets_at == NOW + timedelta(microseconds=1)


def test_tokens_per_day_edge_and_reset_at_midnight(ledger: Ledger) -> None:
    cfg = config(tokens_per_day=1000)
    calls(ledger, "ann", [NOW - timedelta(hours=11)], tokens=5000)  # yesterday (UTC): not today's
    calls(ledger, "ann", [NOW - timedelta(hours=2)], tokens=999)
    assert check("ann", ledger, NOW, cfg) is None  # 999 of 1000: one more call may go
    calls(ledger, "ann", [NOW - timedelta(hours=1)], tokens=1)
    over = check("ann", ledger, NOW, cfg)  # exactly 1000: the next call would pass it
    assert over is not None and (over.limit, over.used, over.allowed) == (TOKENS_PER_DAY, 1000, 1000)
    assert over.resets_at == datetime(2026, 11, 22, tzinfo=UTC)
    assert check("ann", ledger, datetime(2026, 11, 22, tzinfo=UTC), cfg) is None


def test_a_day_starts_at_midnight_in_the_limits_time_zone(ledger: Ledger) -> None:
    cfg = LimitConfig(default=Limits(tokens_per_day=100), timezone="Asia/Shanghai")
    # 10:30 UTC is 18:30 in Shanghai, whose day began at 16:00 UTC the day before.
    calls(ledger, "ann", [datetime(2026, 11, 20, 16, 0, tzinfo=UTC)], tokens=100)
    over = check("ann", ledger, NOW, cfg)
    assert over is not None and over.resets_at == datetime(2026, 11, 22, tzinfo=SHANGHAI)
    assert over.resets_at.astimezone(UTC) == datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
    calls(ledger, "bob", [datetime(2026, 11, 20, 15, 59, 59, tzinfo=UTC)], tokens=100)  # the day before
    assert check("bob", ledger, NOW, cfg) is None


def test_cost_per_month_edge_in_the_limits_currency(ledger: Ledger) -> None:
    cfg = LimitConfig(default=Limits(cost_per_month=10.0), currency="CNY")
    rate = 7.0

    def convert(amount: float, source: str, target: str) -> float:
        return amount * rate if (source, target) == ("USD", "CNY") else amount / rate

    calls(ledger, "ann", [datetime(2026, 10, 31, 23, tzinfo=UTC)], cost=100.0)  # last month
    calls(ledger, "ann", [datetime(2026, 11, 1, tzinfo=UTC)], cost=2.0)  # 2 CNY
    calls(ledger, "ann", [datetime(2026, 11, 2, tzinfo=UTC)], cost=1.0, currency="USD")  # 7 CNY
    calls(ledger, "ann", [datetime(2026, 11, 3, tzinfo=UTC)], cost=None, currency=None)  # no price
    assert check("ann", ledger, NOW, cfg, convert) is None  # 9 of 10
    calls(ledger, "ann", [NOW - S], cost=1.0)
    over = check("ann", ledger, NOW, cfg, convert)  # exactly 10
    assert over is not None and over.limit == COST_PER_MONTH and over.used == pytest.approx(10.0)
    assert over.resets_at == datetime(2026, 12, 1, tzinfo=UTC) and over.currency == "CNY"
    december = LimitConfig(default=Limits(cost_per_month=1.0))
    calls(ledger, "cy", [datetime(2026, 12, 5, tzinfo=UTC)], cost=1.0)
    assert check("cy", ledger, datetime(2026, 12, 31, 23, tzinfo=UTC), december).resets_at == datetime(
        2027, 1, 1, tzinfo=UTC)


def test_zero_refuses_at_once_and_several_limits_report_the_last_to_reset(ledger: Ledger) -> None:
    zero = check("ann", ledger, NOW, config(tokens_per_day=0))
    assert zero is not None and zero.resets_at is None and zero.limit == TOKENS_PER_DAY
    cfg = config(requests_per_minute=1, tokens_per_day=100)
    calls(ledger, "ann", [NOW - S], tokens=100)
    over = check("ann", ledger, NOW, cfg)
    assert over is not None and over.limit == TOKENS_PER_DAY  # midnight is later than a minute from now
    with_zero = check("ann", ledger, NOW, config(requests_per_minute=0, tokens_per_day=100))
    assert with_zero is not None and with_zero.resets_at is None


def test_overrides_lift_or_tighten_one_users_limits(ledger: Ledger) -> None:
    cfg = load_limits(Settings(env={}, secrets={"limits": {"tokens_per_day": 100, "users": {
        "boss": {"tokens_per_day": "unlimited"}, "ann": {"tokens_per_day": 10}}}}))
    calls(ledger, "boss", [NOW - S], tokens=10_000)
    calls(ledger, "ann", [NOW - S], tokens=10)
    calls(ledger, "bob", [NOW - S], tokens=10)
    assert check("boss", ledger, NOW, cfg) is None
    assert check("ann", ledger, NOW, cfg) is not None
    assert check("bob", ledger, NOW, cfg) is None


def test_the_refusal_says_when_the_limit_resets(ledger: Ledger) -> None:
    calls(ledger, "ann", [NOW - 20 * S])
    over = check("ann", ledger, NOW, config(requests_per_minute=1))
    params = message_params(over, NOW)
    assert params["key"] == "limits.over.requests_per_minute" and params["seconds"] == 40
    assert params["resets"] == "10:30:40 (UTC)"
    en, zh = (said(params, lang) for lang in ("en", "zh"))
    assert "40 s" in en and "10:30:40" in en and "own API key" in en
    assert "40 秒" in zh and "10:30:40" in zh
    day = message_params(check("ann", ledger, NOW, config(tokens_per_day=150)), NOW)
    assert (day["hours"], day["minutes"], day["resets"]) == (13, 30, "2026-11-22 00:00 (UTC)")
    assert "150 of your 150 tokens" in said(day, "en")
    zero = message_params(check("ann", ledger, NOW, config(cost_per_month=0)), NOW)
    assert zero["key"] == "limits.over.zero" and "cost_per_month" in said(zero, "zh")

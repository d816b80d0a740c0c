"""Per-user limits on calls paid by the server: requests per minute, tokens per day, cost per month.

Pure Python (never Streamlit). The limits come from `[limits]` in `.streamlit/secrets.toml`, or
PLAYGROUND_LIMIT_RPM, PLAYGROUND_LIMIT_TOKENS_PER_DAY, PLAYGROUND_LIMIT_COST_PER_MONTH,
PLAYGROUND_LIMIT_CURRENCY and PLAYGROUND_LIMIT_TZ (the environment wins), with per-user overrides
under `[limits.users."<user id>"]` ("unlimited" lifts a limit for that user). A missing limit is
no limit; 0 means no calls on the server's keys at all.

The edge, exactly: a call is refused when the user's usage has REACHED the limit, because the next
call would take it over; below the limit a call is sent, even if its own tokens then pass it
(nobody can know an answer's length before it is written). So with 3 requests per minute the
4th within 60 s is refused; with 1,000 tokens per day a user at 999 may send one more call, a user
at 1,000 may not. The minute is rolling: a call counts for 60 s after it started, and the limit
resets when enough calls have left that window. A day and a month start at midnight in the
limits' time zone (UTC unless `timezone` says otherwise).

Usage is read from the usage ledger (finished calls; only priced calls have a cost), counting the
calls on the server's keys only: a call on a key the user typed is recorded (paid_by "user") but
spends no team budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.access import AccessConfigError, check_known, config_table, normalize_user
from core.config import Settings
from core.pricing import CURRENCIES, currency_code
from core.pricing_display import format_money

if TYPE_CHECKING:  # SQLAlchemy is imported only once a limit is checked, not to draw a page
    from core.usage_schema import UsageFilter, UsageRow

RPM, TOKENS_PER_DAY, COST_PER_MONTH = "requests_per_minute", "tokens_per_day", "cost_per_month"
LIMIT_ENVS: dict[str, str] = {RPM: "PLAYGROUND_LIMIT_RPM", TOKENS_PER_DAY: "PLAYGROUND_LIMIT_TOKENS_PER_DAY",
                              COST_PER_MONTH: "PLAYGROUND_LIMIT_COST_PER_MONTH"}
CURRENCY_ENV, TZ_ENV = "PLAYGROUND_LIMIT_CURRENCY", "PLAYGROUND_LIMIT_TZ"
SECTION_KEYS = frozenset({*LIMIT_ENVS, "currency", "timezone", "users"})
UNLIMITED = frozenset({"unlimited", "none"})
WINDOW = timedelta(seconds=60)
TICK = timedelta(microseconds=1)  # a call exactly 60 s old has left the window
SERVER_KEY = ("",)  # the calls limits count: on the server's keys, not on a key the user typed


@dataclass(frozen=True)
class Limits:
    """One user's limits; None is no limit."""

    requests_per_minute: int | None = None
    tokens_per_day: int | None = None
    cost_per_month: float | None = None

    @property
    def any(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


@dataclass(frozen=True)
class LimitConfig:
    default: Limits = field(default_factory=Limits)
    users: Mapping[str, Limits] = field(default_factory=dict)  # overrides already merged
    currency: str = "CNY"  # of cost_per_month
    timezone: str = "UTC"

    @property
    def configured(self) -> bool:
        return self.default.any or any(limits.any for limits in self.users.values())

    def for_user(self, user: str) -> Limits:
        return self.users.get(normalize_user(user) or user, self.default)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _value(name: str, raw: Any, where: str) -> Any:
    """A limit value: an int (requests, tokens) or a number (cost) >= 0, or None for "unlimited"."""
    if isinstance(raw, str):
        text = raw.strip().lower().replace(",", "").replace("_", "")
        if text in UNLIMITED:
            return None
        try:
            raw = float(text) if name == COST_PER_MONTH else int(text)
        except ValueError:
            raise AccessConfigError(where, f"limits.config.bad_{name}", value=raw[:40]) from None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise AccessConfigError(where, f"limits.config.bad_{name}", value=str(raw)[:40])
    if name != COST_PER_MONTH and (isinstance(raw, float) and not raw.is_integer()):
        raise AccessConfigError(where, f"limits.config.bad_{name}", value=str(raw)[:40])
    if not math.isfinite(raw) or raw < 0:
        raise AccessConfigError(where, f"limits.config.bad_{name}", value=str(raw)[:40])
    return float(raw) if name == COST_PER_MONTH else int(raw)


def _overrides(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    check_known(table, LIMIT_ENVS, where, "limits.config.unknown_key")
    return {name: _value(name, table[name], f"{where} {name}") for name in LIMIT_ENVS if name in table}


def load_limits(settings: Settings) -> LimitConfig:
    """The limits in force; AccessConfigError (naming the key) for a value that cannot be used."""
    section = config_table(settings.secrets.get("limits"), "[limits]")
    check_known(section, SECTION_KEYS, "[limits]", "limits.config.unknown_key")
    default: dict[str, Any] = _overrides({k: v for k, v in section.items() if k in LIMIT_ENVS}, "[limits]")
    for name, env in LIMIT_ENVS.items():
        text = (settings.env.get(env) or "").strip()
        if text:
            default[name] = _value(name, text, env)
    base = Limits(**default)
    currency_raw = (settings.env.get(CURRENCY_ENV) or "").strip() or section.get("currency") or CURRENCIES[0]
    currency = currency_code(currency_raw)
    if currency is None:
        where = CURRENCY_ENV if settings.env.get(CURRENCY_ENV) else "[limits] currency"
        raise AccessConfigError(where, "limits.config.bad_currency", value=str(currency_raw)[:20],
                                choices=" / ".join(CURRENCIES))
    tz_name = str((settings.env.get(TZ_ENV) or "").strip() or section.get("timezone") or "UTC")
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        where = TZ_ENV if settings.env.get(TZ_ENV) else "[limits] timezone"
        raise AccessConfigError(where, "limits.config.bad_timezone", value=tz_name[:60]) from None
    users: dict[str, Limits] = {}
    for raw, table in config_table(section.get("users"), "[limits.users]").items():
        name = normalize_user(raw)
        where = f'[limits.users."{str(raw)[:64]}"]'
        if not name:
            raise AccessConfigError(where, "access.config.bad_name", value=str(raw)[:64])
        users[name] = replace(base, **_overrides(config_table(table, where), where))
    return LimitConfig(default=base, users=users, currency=currency, timezone=tz_name)


# ---- checking a user's usage against their limits -------------------------------------------------
class UsageSource(Protocol):
    """What a limit reads: core.usage_ledger.Ledger has all three."""

    def rows(self, f: UsageFilter, limit: int = 1000, offset: int = 0) -> list[UsageRow]: ...

    def count(self, f: UsageFilter) -> int: ...

    def user_since(self, user_id: str, since: datetime, payers: tuple[str, ...] = ()) -> Any: ...


Convert = Callable[[float, str, str], float]


@dataclass(frozen=True)
class LimitExceeded:
    """Which limit stops the next call, what was used, the limit, and when it resets (aware UTC;
    None when the limit is 0: the server's keys are not for this user)."""

    limit: str
    used: float
    allowed: float
    resets_at: datetime | None
    currency: str | None = None
    timezone: str = "UTC"


def day_start(now: datetime, tz: ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz)


def next_day(now: datetime, tz: ZoneInfo) -> datetime:
    return datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(0), tzinfo=tz)


def month_start(now: datetime, tz: ZoneInfo) -> datetime:
    return datetime.combine(now.astimezone(tz).date().replace(day=1), time(0), tzinfo=tz)


def next_month(now: datetime, tz: ZoneInfo) -> datetime:
    first = now.astimezone(tz).date().replace(day=1)
    following = first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(
        month=first.month + 1)
    return datetime.combine(following, time(0), tzinfo=tz)


def _cost_in(cost_by_currency: Mapping[str, float], currency: str, convert: Convert | None) -> float:
    """The cost in the limit's currency; other currencies converted (ignored without `convert`)."""
    total = 0.0
    for code, amount in cost_by_currency.items():
        if code == currency:
            total += amount
        elif convert is not None:
            total += convert(amount, code, currency)
    return total


def _rpm(user: str, allowed: int, ledger: UsageSource, now: datetime) -> LimitExceeded | None:
    from core.usage_schema import UsageFilter

    window = UsageFilter(start=now - WINDOW + TICK, users=(user,), payers=SERVER_KEY)
    recent = ledger.rows(window, limit=allowed)
    if len(recent) < allowed:
        return None
    # The next call may go once the allowed-th newest call has left the window: then only
    # allowed - 1 calls remain in it.
    return LimitExceeded(RPM, ledger.count(window), allowed, recent[allowed - 1].ts + WINDOW)


def check(user: str, ledger: UsageSource, now: datetime, config: LimitConfig,
          convert: Convert | None = None) -> LimitExceeded | None:
    """None when `user` may make one more call on the server's keys at `now` (aware), else the
    limit that stops it; with several, the one that resets last (a 0 limit first)."""
    limits = config.for_user(user)
    tz = config.tz
    found: list[LimitExceeded] = []
    for name in (RPM, TOKENS_PER_DAY, COST_PER_MONTH):
        allowed = getattr(limits, name)
        if allowed is not None and allowed <= 0:
            found.append(LimitExceeded(name, 0, 0, None, config.currency if name == COST_PER_MONTH else None,
                                       config.timezone))
    if limits.requests_per_minute:
        over = _rpm(user, limits.requests_per_minute, ledger, now)
        if over is not None:
            found.append(replace(over, timezone=config.timezone))
    if limits.tokens_per_day:
        used = ledger.user_since(user, day_start(now, tz), SERVER_KEY).total_tokens
        if used >= limits.tokens_per_day:
            found.append(LimitExceeded(TOKENS_PER_DAY, used, limits.tokens_per_day, next_day(now, tz),
                                       timezone=config.timezone))
    if limits.cost_per_month:
        spent = _cost_in(ledger.user_since(user, month_start(now, tz), SERVER_KEY).cost_by_currency,
                         config.currency, convert)
        if spent >= limits.cost_per_month - 1e-12:
            found.append(LimitExceeded(COST_PER_MONTH, spent, limits.cost_per_month, next_month(now, tz),
                                       config.currency, config.timezone))
    if not found:
        return None
    never = datetime.max.replace(tzinfo=UTC)
    return max(found, key=lambda e: never if e.resets_at is None else e.resets_at)


def message_params(exceeded: LimitExceeded, now: datetime) -> dict[str, Any]:
    """What the refusal says (catalogue key `limits.over.<limit>`, or `limits.over.zero`): the usage,
    the limit, the reset time in the limits' time zone and how long until then."""
    if exceeded.resets_at is None:
        return {"key": "limits.over.zero", "limit_name": exceeded.limit}
    if exceeded.limit == COST_PER_MONTH:
        currency = exceeded.currency or CURRENCIES[0]
        used, allowed = format_money(exceeded.used, currency), format_money(exceeded.allowed, currency)
    else:
        used, allowed = f"{int(exceeded.used):,}", f"{int(exceeded.allowed):,}"
    wait = max(0, math.ceil((exceeded.resets_at - now).total_seconds()))
    local = exceeded.resets_at.astimezone(ZoneInfo(exceeded.timezone))
    fmt = "%H:%M:%S" if exceeded.limit == RPM else "%Y-%m-%d %H:%M"
    return {"key": f"limits.over.{exceeded.limit}", "used": used, "limit": allowed,
            "resets": f"{local.strftime(fmt)} ({exceeded.timezone})", "seconds": wait,
            "hours": wait // 3600, "minutes": (wait % 3600) // 60, "days": wait // 86400}

"""Pure data shaping for the Usage & cost page: periods, currency totals, budget, re-pricing."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from core.i18n import t
from core.usage_rollup import bin_bounds

PRESETS: tuple[str, ...] = ("today", "7d", "30d", "all")
DEFAULT_PRESET = "30d"
BUDGET_NEAR = 0.8  # at 80 % of the budget the page says so; past 100 % it warns

Convert = Callable[[float, str, str], float]


def preset_range(preset: str, today: date, first_day: date | None = None) -> tuple[date, date]:
    """The (first, last) day a preset means; "all" starts at the first recorded day."""
    if preset == "today":
        return today, today
    if preset == "7d":
        return today - timedelta(days=6), today
    if preset == "all":
        return min(first_day or today, today), today
    return today - timedelta(days=29), today


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """Local midnight of `first` to local midnight after `last` (end excluded), timezone-aware."""
    if last < first:
        first, last = last, first
    start = datetime.combine(first, time.min).astimezone()
    end = datetime.combine(last + timedelta(days=1), time.min).astimezone()
    return start, end


def time_bucket(start: datetime | None, end: datetime | None) -> str:
    """Hours for a range of up to two days (a day's calls in one bar says little), else days."""
    if start is not None and end is not None and end - start <= timedelta(days=2, hours=1):
        return "hour"
    return "day"


def total_in(amounts: Mapping[str, float], currency: str, convert: Convert) -> float:
    """Amounts kept per currency, added up in one currency."""
    return sum(convert(float(value), cur, currency) for cur, value in amounts.items() if value)


def cost_by_period(rows: Iterable[Mapping[str, Any]], currency: str,
                   convert: Convert) -> list[dict[str, Any]]:
    """Cost-over-time rows in one currency, one row per (period, model), oldest period first."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        period, model = str(row["period"]), str(row["model"])
        if len(period) == 13:  # an hour bucket, "2026-11-21 14": a time plotly reads
            period += ":00"
        item = out.setdefault((period, model), {"period": period, "model": model, "cost": 0.0,
                                                "calls": 0})
        cost = row.get("cost")
        if cost is not None and row.get("currency"):
            item["cost"] += convert(float(cost), str(row["currency"]), currency)
        item["calls"] += int(row.get("calls") or 0)
    return [out[k] for k in sorted(out)]


def budget_level(cost: float, budget: float | None) -> str | None:
    """"over" past the budget, "near" past 80 % of it, otherwise None (also with no budget)."""
    if not budget or budget <= 0:
        return None
    if cost > budget:
        return "over"
    if cost >= BUDGET_NEAR * budget:
        return "near"
    return None


def saving_percent(actual: float, cost: float) -> float | None:
    """How much less (positive) or more (negative) than what was actually spent, in percent."""
    if not actual or not math.isfinite(actual):
        return None
    return (actual - cost) / actual * 100.0


def saving_text(saving: float | None, lang: str, digits: int = 1) -> str:
    """71.1 -> "saves 71.1%", -124 -> "124.0% more"; "—" with nothing to compare."""
    if saving is None:
        return "—"
    if abs(saving) < 0.05:
        return t("usage.reprice.same", lang)
    key = "usage.reprice.saves" if saving > 0 else "usage.reprice.more"
    return t(key, lang, pct=f"{abs(saving):.{digits}f}%")


def repricing_rows(priced: Iterable[Mapping[str, Any]], currency: str,
                   convert: Convert) -> list[dict[str, Any]]:
    """reprice() rows in one currency with the saving against "actual"; unpriced targets last.

    "actual" keeps its cost when some of its models have no price (it then sums those that do)."""
    rows = []
    for r in priced:
        cost = r.get("cost")
        value = None if cost is None else convert(float(cost), str(r.get("currency") or currency), currency)
        rows.append({"model": str(r["model"]), "cost": value, "known": bool(r.get("known", cost is not None)),
                     "unpriced": list(r.get("unpriced") or [])})
    actual = next((r["cost"] for r in rows if r["model"] == "actual"), None)
    for r in rows:
        r["saving_pct"] = (saving_percent(actual, r["cost"])
                           if actual is not None and r["cost"] is not None and r["model"] != "actual"
                           else None)
    return sorted(rows, key=lambda r: (r["model"] != "actual", r["cost"] is None))


def histogram_series(rows: Iterable[Mapping[str, Any]]) -> tuple[list[str], dict[str, list[int]]]:
    """The latency chart's bars: bin labels from the fastest to the slowest bin with calls (empty
    bins between them kept, so the axis has no gaps) and each model's count per bin."""
    rows = list(rows)
    if not rows:
        return [], {}
    first, last = min(int(r["bin"]) for r in rows), max(int(r["bin"]) for r in rows)
    counts: dict[str, list[int]] = {}
    for r in rows:
        counts.setdefault(str(r["model"]), [0] * (last - first + 1))[int(r["bin"]) - first] += int(r["count"])
    return [bin_label(i) for i in range(first, last + 1)], dict(sorted(counts.items()))


def bin_label(index: int) -> str:
    """A latency bin in words: "< 0.05 s", "0.3–0.5 s", "≥ 500 s"."""
    low, high = bin_bounds(index)
    if low is None:
        return f"< {high:g} s"
    if high is None:
        return f"≥ {low:g} s"
    return f"{low:g}–{high:g} s"


def default_targets(priced_models: Iterable[str],
                    wanted: tuple[str, ...] = ("gpt-4o", "glm-4-plus", "glm-4-flash")) -> list[str]:
    """The demo's comparison (GPT-4o vs GLM-4-Plus vs GLM-4-Flash), those the price table knows."""
    known = set(priced_models)
    return [m for m in wanted if m in known]


def percent(value: float | None, digits: int = 1) -> str:
    """0.125 -> "12.5%"."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"

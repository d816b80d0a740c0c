"""What the pages show of prices: usage re-priced on other models, a conversation's running cost,
money as people read it, and price-table problems in words. Prices come from `core.pricing`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.i18n import t
from core.pricing import (
    CURRENCY_SYMBOLS,
    Price,
    PriceNotice,
    PriceProblem,
    PriceTable,
    currency_code,
    token_count,
)


def reprice(usage_by_model: list[dict[str, Any]], targets: list[str], table: PriceTable,
            currency: str) -> list[dict[str, Any]]:
    """What the filtered usage cost, and what it would have cost had it all run on each target.

    `usage_by_model`: rows with "model", "prompt_tokens", "completion_tokens" (None counts as 0).
    Returns the actual cost first ("model": "actual", each row priced on its own model), then one
    row per target, each {"model", "cost", "currency", "known", "prompt_tokens",
    "completion_tokens"}. A target with no price has cost None and known False; the actual row
    is known only when every model in the usage has a price (its cost then sums those that do),
    and lists the others under "unpriced". Target rows also carry "native_cost" and
    "native_currency": the cost in the target's own currency before conversion.
    """
    target_currency = currency_code(currency)
    if target_currency is None:
        raise ValueError(f"unknown currency: {currency!r}")
    prompt = sum(token_count(row.get("prompt_tokens")) for row in usage_by_model)
    completion = sum(token_count(row.get("completion_tokens")) for row in usage_by_model)
    actual = 0.0
    unpriced: list[str] = []
    for row in usage_by_model:
        cost = table.cost_in(row.get("model"), row.get("prompt_tokens"), row.get("completion_tokens"),
                             target_currency)
        if cost is None:
            name = str(row.get("model") or "")
            if name not in unpriced:
                unpriced.append(name)
        else:
            actual += cost
    totals = {"prompt_tokens": prompt, "completion_tokens": completion}
    out: list[dict[str, Any]] = [{"model": "actual", "cost": actual, "currency": target_currency,
                                  "known": not unpriced, "unpriced": unpriced, **totals}]
    seen: set[str] = set()
    for target in targets:
        if not target or target in seen:
            continue
        seen.add(target)
        native = table.cost(target, prompt, completion)
        out.append({
            "model": target, "currency": target_currency, "known": native is not None,
            "cost": None if native is None else table.convert(native[0], native[1], target_currency),
            "native_cost": None if native is None else native[0],
            "native_currency": None if native is None else native[1], **totals})
    return out


@dataclass(frozen=True)
class ConversationCost:
    """The running cost of a conversation's answers."""

    amount: float  # in `currency`, over the answers that have a price and a token count
    currency: str
    tokens: int  # prompt + completion tokens over every answer that reported usage
    answers: int  # answers with a record (hand-written example answers have none)
    priced: int  # answers counted in `amount`
    unpriced_models: tuple[str, ...]  # models with no price in the table
    without_usage: int  # answers with no token count (stopped or cut)

    @property
    def incomplete(self) -> bool:
        return bool(self.unpriced_models or self.without_usage)


def conversation_summary(stats_list: list[dict[str, Any] | None], table: PriceTable,
                         currency: str | None = None) -> ConversationCost:
    """Sum the answers' records (Message.stats: model + usage).

    With no `currency`, CNY unless every priced answer is in USD.
    """
    entries: list[tuple[Price | None, dict[str, Any] | None, str]] = []
    for stats in stats_list:
        if not stats:
            continue
        usage = stats.get("usage")
        usage = usage if isinstance(usage, dict) and usage.get("prompt_tokens") is not None else None
        model = str(stats.get("model") or "")
        entries.append((table.find(model), usage, model))
    if currency is None:
        used = {price.currency for price, usage, _ in entries if price is not None and usage}
        currency = "USD" if used == {"USD"} else "CNY"
    target = currency_code(currency)
    if target is None:
        raise ValueError(f"unknown currency: {currency!r}")
    amount, tokens, priced, without_usage = 0.0, 0, 0, 0
    unpriced: list[str] = []
    for price, usage, model in entries:
        if usage is None:
            without_usage += 1
            continue
        tokens += token_count(usage.get("prompt_tokens")) + token_count(usage.get("completion_tokens"))
        if price is None:
            if model not in unpriced:
                unpriced.append(model)
            continue
        priced += 1
        amount += table.convert(price.cost(usage.get("prompt_tokens"), usage.get("completion_tokens")),
                                price.currency, target)
    return ConversationCost(amount, target, tokens, len(entries), priced, tuple(unpriced),
                            without_usage)


def conversation_cost(stats_list: list[dict[str, Any] | None], table: PriceTable,
                      currency: str) -> tuple[float, bool]:
    """(total in `currency`, incomplete): incomplete when some answer's model has no price or
    the answer has no token count. Entries that are None (hand-written answers) are skipped."""
    summary = conversation_summary(stats_list, table, currency)
    return summary.amount, summary.incomplete


def format_money(amount: float, currency: str) -> str:
    """¥0.0123, $7.50, ¥1,234.56: more decimals for the tiny sums one answer costs."""
    symbol = CURRENCY_SYMBOLS.get(currency_code(currency) or "", "")
    if amount == 0:
        return f"{symbol}0"
    sign, amount = ("-", -amount) if amount < 0 else ("", amount)
    if amount >= 1:
        text = f"{amount:,.2f}"
    elif amount >= 0.0001:
        text = f"{amount:.4f}"
    elif amount >= 0.000001:
        text = f"{amount:.6f}".rstrip("0")
    else:
        return f"<{symbol}0.000001"
    return f"{sign}{symbol}{text}"


def describe_problem(problem: PriceProblem, lang: str) -> str:
    """'Row 3 (glm-4-air), Input / 1M tokens: -1 is negative: enter 0 or more.'"""
    what = t(problem.key, lang, **problem.values)
    column = t(f"pricing.col.{problem.column}", lang)
    model = problem.values.get("model")
    if problem.row <= 0:
        return t("pricing.problem_line_file", lang, column=column, problem=what)
    if model:
        return t("pricing.problem_line", lang, row=problem.row, model=model, column=column, problem=what)
    return t("pricing.problem_line_no_model", lang, row=problem.row, column=column, problem=what)


def describe_notice(notice: PriceNotice, lang: str) -> str:
    values = dict(notice.values)
    if notice.problem is not None:
        values["detail"] = describe_problem(notice.problem, lang)
    return t(notice.key, lang, **values)

"""core/pricing: the shipped table, lookups, and cost arithmetic checked against hand-computed sums."""

from __future__ import annotations

import pytest

from core.pricing import CURRENCIES, Price, PriceTable
from core.pricing_display import conversation_cost, conversation_summary, format_money, reprice

SHIPPED = PriceTable.shipped()


# ---- the shipped table ----------------------------------------------------------------------------
def test_shipped_rows_have_the_seed_and_later_prices() -> None:
    expected = {  # model: (currency, input / 1M, output / 1M)
        "glm-4-plus": ("CNY", 5, 5), "glm-4-air": ("CNY", 0.5, 0.5), "glm-4-airx": ("CNY", 10, 10),
        "glm-4-long": ("CNY", 1, 1), "glm-4-flash": ("CNY", 0, 0), "glm-4-0520": ("CNY", 100, 100),
        "glm-4": ("CNY", 100, 100), "glm-3-turbo": ("CNY", 5, 5), "charglm-3": ("CNY", 15, 15),
        "embedding-2": ("CNY", 0.5, 0.5), "cogview-3": ("CNY", 0, 0),
        "gpt-4o": ("USD", 2.5, 10), "gpt-4o-mini": ("USD", 0.15, 0.6), "gpt-4.1": ("USD", 2, 8),
    }
    assert {p.model: (p.currency, p.input_per_m, p.output_per_m) for p in SHIPPED.prices} == expected
    assert SHIPPED.models() == list(expected)
    assert SHIPPED.find("cogview-3").per_image == 0.25  # type: ignore[union-attr]
    assert SHIPPED.cny_per_usd == 7.2 and SHIPPED.origin == "shipped" and SHIPPED.warnings == ()


def test_every_shipped_row_says_where_and_when() -> None:
    for price in SHIPPED.prices:
        assert price.source.strip() and price.date[:4] in ("2024", "2026"), price
        assert price.currency in CURRENCIES
        if price.currency == "CNY":  # GLM quotes one price for input and output
            assert price.input_per_m == price.output_per_m, price


def test_flash_ships_the_later_free_price_and_says_the_seed_differed() -> None:
    flash = SHIPPED.find("glm-4-flash")
    assert flash is not None and flash.input_per_m == 0 and flash.output_per_m == 0
    assert "0.1" in flash.source and "000" in flash.source


@pytest.mark.parametrize("model", ["glm-4.5", "glm-4.5-air", "glm-4.6", "gpt-4.1-mini", "gpt-3.5-turbo",
                                   "qwen-max", "glm-4-9b-chat", "chatglm3-6b", "", "   ", None])
def test_models_without_a_price_are_absent(model: str | None) -> None:
    assert SHIPPED.find(model) is None
    assert SHIPPED.cost(model, 1000, 1000) is None
    assert SHIPPED.cost_in(model, 1000, 1000, "CNY") is None


@pytest.mark.parametrize(("model", "row"), [
    ("glm-4-plus", "glm-4-plus"), ("GLM-4-Plus", "glm-4-plus"), (" glm-4-air ", "glm-4-air"),
    ("glm-4-flash-250414", "glm-4-flash"), ("glm-4-plus-0111", "glm-4-plus"),
    ("gpt-4o-2024-08-06", "gpt-4o"), ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("gpt-4.1-2025-04-14", "gpt-4.1"), ("glm-4-0520", "glm-4-0520"), ("GLM-4", "glm-4"),
])
def test_find_exact_or_a_dated_snapshot(model: str, row: str) -> None:
    found = SHIPPED.find(model)
    assert found is not None and found.model == row


# ---- cost arithmetic, by hand -------------------------------------------------------------------
@pytest.mark.parametrize(("model", "prompt", "completion", "amount", "currency"), [
    # 1,000 x 5 / 1M + 2,000 x 5 / 1M = 0.005 + 0.010
    ("glm-4-plus", 1_000, 2_000, 0.015, "CNY"),
    # 1M x 2.50 / 1M + 500,000 x 10 / 1M = 2.50 + 5.00
    ("gpt-4o", 1_000_000, 500_000, 7.50, "USD"),
    # 200,000 x 0.15 / 1M + 100,000 x 0.60 / 1M = 0.03 + 0.06
    ("gpt-4o-mini", 200_000, 100_000, 0.09, "USD"),
    # 500,000 x 2 / 1M + 250,000 x 8 / 1M = 1.00 + 2.00
    ("gpt-4.1", 500_000, 250_000, 3.00, "USD"),
    ("glm-4-air", 10_000, 0, 0.005, "CNY"),  # 10,000 x 0.5 / 1M
    ("glm-4-airx", 3_000, 7_000, 0.1, "CNY"),  # 10,000 x 10 / 1M
    ("glm-4-long", 900_000, 100_000, 1.0, "CNY"),  # 1M x 1 / 1M
    ("charglm-3", 600, 400, 0.015, "CNY"),  # the seed's 0.015 CNY per 1K tokens
    ("glm-4", 1_000, 0, 0.1, "CNY"),  # the seed's 0.1 CNY per 1K tokens
    ("embedding-2", 1_000, None, 0.0005, "CNY"),  # 0.0005 CNY per 1K; None counts as 0
    ("glm-4-flash", 123_456, 654_321, 0.0, "CNY"),  # free
    ("glm-4-flash-250414", None, None, 0.0, "CNY"),
])
def test_cost_in_the_rows_currency(model: str, prompt: int | None, completion: int | None,
                                   amount: float, currency: str) -> None:
    cost = SHIPPED.cost(model, prompt, completion)
    assert cost is not None
    assert cost[0] == pytest.approx(amount) and cost[1] == currency


def test_image_model_is_priced_per_image() -> None:
    assert SHIPPED.cost("cogview-3", 0, 0, images=4) == (pytest.approx(1.0), "CNY")  # 4 x 0.25
    assert SHIPPED.cost("cogview-3", 1000, 1000) == (0.0, "CNY")


def test_unreadable_token_counts_count_as_zero() -> None:
    price = Price("m", "CNY", 5, 5)
    assert price.cost("1000", 1000.0) == pytest.approx(0.01)
    assert price.cost(-5, "abc") == 0 and price.cost(True, float("nan")) == 0


def test_convert_both_ways_at_the_rate() -> None:
    assert SHIPPED.convert(7.50, "USD", "CNY") == pytest.approx(54.0)  # 7.50 x 7.2
    assert SHIPPED.convert(54.0, "CNY", "USD") == pytest.approx(7.50)
    assert SHIPPED.convert(0.015, "CNY", "USD") == pytest.approx(0.015 / 7.2)
    assert SHIPPED.convert(3.0, "usd", "USD") == 3.0
    other = PriceTable(SHIPPED.prices, cny_per_usd=7.0)
    assert other.convert(10.0, "USD", "CNY") == pytest.approx(70.0)
    with pytest.raises(ValueError):
        SHIPPED.convert(1.0, "EUR", "CNY")


def test_cost_in_converts() -> None:
    assert SHIPPED.cost_in("gpt-4o", 1_000_000, 500_000, "CNY") == pytest.approx(54.0)
    assert SHIPPED.cost_in("glm-4-plus", 1_000, 2_000, "USD") == pytest.approx(0.015 / 7.2)
    assert SHIPPED.cost_in("glm-4-plus", 1_000, 2_000, "CNY") == pytest.approx(0.015)


# ---- re-pricing ---------------------------------------------------------------------------------
USAGE = [
    {"model": "glm-4-plus", "prompt_tokens": 1_000_000, "completion_tokens": 500_000, "calls": 3},
    {"model": "gpt-4o", "prompt_tokens": 200_000, "completion_tokens": 100_000, "calls": 1},
    {"model": "glm-4.6", "prompt_tokens": 100_000, "completion_tokens": None, "calls": 1},
]


def test_reprice_in_cny() -> None:
    rows = reprice(USAGE, ["gpt-4o", "glm-4-plus", "glm-4-flash", "no-such-model", "gpt-4o"], SHIPPED, "CNY")
    by_model = {r["model"]: r for r in rows}
    assert [r["model"] for r in rows] == ["actual", "gpt-4o", "glm-4-plus", "glm-4-flash", "no-such-model"]
    # actual: glm-4-plus 1.5M x 5 / 1M = 7.50 CNY; gpt-4o 0.50 + 1.00 = 1.50 USD = 10.80 CNY;
    # glm-4.6 has no price.
    actual = by_model["actual"]
    assert actual["cost"] == pytest.approx(18.30) and actual["currency"] == "CNY"
    assert actual["known"] is False and actual["unpriced"] == ["glm-4.6"]
    # All of it (1.3M prompt, 0.6M completion) on gpt-4o: 3.25 + 6.00 = 9.25 USD = 66.60 CNY.
    gpt = by_model["gpt-4o"]
    assert gpt["cost"] == pytest.approx(66.60) and gpt["known"] is True
    assert gpt["native_cost"] == pytest.approx(9.25) and gpt["native_currency"] == "USD"
    assert (gpt["prompt_tokens"], gpt["completion_tokens"]) == (1_300_000, 600_000)
    assert by_model["glm-4-plus"]["cost"] == pytest.approx(9.50)  # 1.9M x 5 / 1M
    assert by_model["glm-4-flash"]["cost"] == 0.0 and by_model["glm-4-flash"]["known"] is True
    missing = by_model["no-such-model"]
    assert missing["cost"] is None and missing["known"] is False and missing["currency"] == "CNY"


def test_reprice_in_usd_and_all_known() -> None:
    rows = reprice(USAGE[:2], ["glm-4-plus"], SHIPPED, "USD")
    actual, plus = rows
    assert actual["known"] is True and actual["unpriced"] == []
    assert actual["cost"] == pytest.approx(7.50 / 7.2 + 1.50)
    assert plus["cost"] == pytest.approx(9.00 / 7.2)  # 1.8M x 5 / 1M = 9.00 CNY = 1.25 USD
    assert plus["native_cost"] == pytest.approx(9.00) and plus["native_currency"] == "CNY"


def test_reprice_nothing() -> None:
    assert reprice([], ["gpt-4o"], SHIPPED, "CNY") == [
        {"model": "actual", "cost": 0.0, "currency": "CNY", "known": True, "unpriced": [],
         "prompt_tokens": 0, "completion_tokens": 0},
        {"model": "gpt-4o", "cost": 0.0, "currency": "CNY", "known": True, "native_cost": 0.0,
         "native_currency": "USD", "prompt_tokens": 0, "completion_tokens": 0}]
    with pytest.raises(ValueError):
        reprice(USAGE, [], SHIPPED, "EUR")


# ---- a conversation's running cost -------------------------------------------------------------
def answer(model: str, prompt: int | None, completion: int | None = 0) -> dict:
    usage = None if prompt is None else {"prompt_tokens": prompt, "completion_tokens": completion,
                                         "total_tokens": prompt + (completion or 0)}
    return {"model": model, "usage": usage, "outcome": "ok"}


def test_conversation_cost_sums_in_one_currency() -> None:
    stats = [answer("glm-4-plus", 1_000, 2_000), answer("gpt-4o", 1_000_000, 500_000), None]
    total, incomplete = conversation_cost(stats, SHIPPED, "CNY")
    assert total == pytest.approx(0.015 + 54.0) and incomplete is False
    total, incomplete = conversation_cost(stats, SHIPPED, "USD")
    assert total == pytest.approx(0.015 / 7.2 + 7.50) and incomplete is False


def test_conversation_cost_flags_a_missing_price_or_usage() -> None:
    total, incomplete = conversation_cost([answer("glm-4-plus", 1_000, 2_000), answer("glm-4.6", 50, 50)],
                                          SHIPPED, "CNY")
    assert total == pytest.approx(0.015) and incomplete is True
    total, incomplete = conversation_cost([answer("glm-4-plus", 1_000, 2_000), answer("glm-4-plus", None)],
                                          SHIPPED, "CNY")
    assert total == pytest.approx(0.015) and incomplete is True
    assert conversation_cost([], SHIPPED, "CNY") == (0.0, False)


def test_conversation_summary_picks_the_currency_and_counts() -> None:
    usd = conversation_summary([answer("gpt-4o", 1_000_000, 500_000), answer("glm-4.6", 10, 20)], SHIPPED)
    assert usd.currency == "USD" and usd.amount == pytest.approx(7.50)
    assert usd.tokens == 1_500_030 and usd.priced == 1 and usd.unpriced_models == ("glm-4.6",)
    mixed = conversation_summary([answer("gpt-4o", 1_000_000, 0), answer("glm-4-plus", 1_000, 1_000),
                                  answer("glm-4-plus", None), {}], SHIPPED)
    assert mixed.currency == "CNY" and mixed.amount == pytest.approx(2.5 * 7.2 + 0.01)
    assert mixed.answers == 3 and mixed.without_usage == 1 and mixed.incomplete
    nothing = conversation_summary([answer("glm-4.6", 5, 5)], SHIPPED)
    assert nothing.currency == "CNY" and nothing.priced == 0 and nothing.tokens == 10


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (0.0, "CNY", "¥0"), (0.015, "CNY", "¥0.0150"), (0.0123, "CNY", "¥0.0123"),
    (0.000045, "CNY", "¥0.000045"), (7.5, "USD", "$7.50"), (1234.5, "CNY", "¥1,234.50"),
    (1e-9, "USD", "<$0.000001"), (-2.0, "usd", "-$2.00"),
])
def test_format_money(amount: float, currency: str, text: str) -> None:
    assert format_money(amount, currency) == text

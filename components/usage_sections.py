"""Usage page sections: headline metrics and budget, charts, re-pricing, usage by user, prices and
recording."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from components import usage_charts
from components.price_editor import render_price_editor, render_price_view
from components.state import bound, durable
from components.usage_hook import STORE_TEXT_KEY
from components.usage_table import render_repricing_table
from core.i18n import t
from core.pricing import PriceTable
from core.pricing_display import format_money, reprice
from core.usage_ledger import Ledger, Overview, Summary, UsageFilter
from core.usage_view import (
    budget_level,
    cost_by_period,
    default_targets,
    percent,
    repricing_rows,
    time_bucket,
    total_in,
)

TARGETS_KEY = "usage.reprice_targets"
RECOMPUTED_KEY = "usage.recomputed"  # how many calls the last "Recompute costs" re-priced


def _seconds(value: float | None, lang: str) -> str:
    return t("usage.metric.none", lang) if value is None else t("usage.metric.seconds", lang, value=value)


def render_metrics(summary: Summary, cost: float, currency: str, lang: str) -> None:
    """Calls, tokens, cost, error rate, then p50 / p95 latency and time to first token."""
    top = st.columns(4)
    top[0].metric(t("usage.metric.calls", lang), f"{summary.calls:,}",
                  help=t("usage.metric.calls_help", lang, errors=f"{summary.errors:,}"))
    top[1].metric(t("usage.metric.tokens", lang), f"{summary.total_tokens:,}",
                  help=t("usage.metric.tokens_help", lang, prompt=f"{summary.prompt_tokens:,}",
                         completion=f"{summary.completion_tokens:,}"))
    top[2].metric(t("usage.metric.cost", lang), format_money(cost, currency),
                  help=t("usage.metric.cost_help", lang, currency=currency))
    top[3].metric(t("usage.metric.error_rate", lang), percent(summary.error_rate),
                  help=t("usage.metric.error_rate_help", lang))
    speed = st.columns(4)
    speed[0].metric(t("usage.metric.latency_p50", lang), _seconds(summary.latency_p50, lang),
                    help=t("usage.metric.latency_help", lang))
    speed[1].metric(t("usage.metric.latency_p95", lang), _seconds(summary.latency_p95, lang),
                    help=t("usage.metric.latency_help", lang))
    speed[2].metric(t("usage.metric.ttft_p50", lang), _seconds(summary.ttft_p50, lang),
                    help=t("usage.metric.ttft_help", lang))
    speed[3].metric(t("usage.metric.ttft_p95", lang), _seconds(summary.ttft_p95, lang),
                    help=t("usage.metric.ttft_help", lang))
    if summary.estimated_calls:
        st.caption(t("usage.estimated", lang, count=f"{summary.estimated_calls:,}"))


def render_budget(cost: float, budget: float | None, currency: str, lang: str) -> None:
    """A warning past the budget, a note past 80 % of it."""
    level = budget_level(cost, budget)
    if level is None or budget is None:
        return
    values = {"cost": format_money(cost, currency), "budget": format_money(budget, currency),
              "percent": percent(cost / budget, 0)}
    if level == "over":
        st.warning(t("usage.budget_over", lang, **values), icon=":material/warning:")
    else:
        st.info(t("usage.budget_near", lang, **values), icon=":material/info:")


def unpriced_models(tokens: Sequence[Mapping[str, Any]], table: PriceTable) -> list[str]:
    """Models in the usage that the price table cannot price."""
    return [str(r["model"]) for r in tokens if table.find(str(r["model"])) is None]


def render_charts(flt: UsageFilter, view: Overview, table: PriceTable, currency: str,
                  lang: str) -> None:
    """Cost over time by model, tokens by model, latency per model and outcomes, two by two."""
    bucket = time_bucket(flt.start, flt.end)
    costs = cost_by_period(view.cost_over_time, currency, table.convert)
    left, right = st.columns(2)
    with left:
        st.plotly_chart(usage_charts.cost_over_time(costs, currency, lang, bucket), key="usage.chart.cost")
    with right:
        st.plotly_chart(usage_charts.tokens_by_model(view.tokens_by_model, lang), key="usage.chart.tokens")
    left, right = st.columns(2)
    with left:
        st.plotly_chart(usage_charts.latency_histogram(view.latency_histogram, lang),
                        key="usage.chart.latency")
    with right:
        st.plotly_chart(usage_charts.outcomes(view.outcomes, lang), key="usage.chart.outcomes")
    st.caption(t("usage.utc_note", lang))


def render_repricing(tokens: list[dict[str, Any]], table: PriceTable, currency: str, lang: str) -> None:
    """The filtered calls priced on other models: bar chart and table with the saving."""
    st.caption(t("usage.reprice.intro", lang))
    options = sorted(table.models())
    store = durable(TARGETS_KEY, lambda: {"targets": default_targets(options)})
    store["targets"] = [m for m in store["targets"] if m in options]
    key = "widget.usage.targets"
    if st.session_state.get(key) != store["targets"]:
        st.session_state[key] = list(store["targets"])

    def write_back() -> None:
        store["targets"] = [m for m in st.session_state.get(key, []) if m in options]

    st.multiselect(t("usage.reprice.targets", lang), options, key=key, on_change=write_back,
                   help=t("usage.reprice.targets_help", lang))
    if not store["targets"]:
        st.info(t("usage.reprice.pick", lang))
        return
    if not any(r.get("prompt_tokens") or r.get("completion_tokens") for r in tokens):
        st.info(t("usage.reprice.no_tokens", lang))
        return
    rows = repricing_rows(reprice(tokens, store["targets"], table, currency), currency, table.convert)
    st.plotly_chart(usage_charts.repricing(rows, currency, lang), key="usage.chart.reprice")
    render_repricing_table(rows, currency, lang)


def render_by_user(ledger: Ledger, flt: UsageFilter, table: PriceTable, currency: str, lang: str) -> None:
    """Each user's calls, tokens and cost under the filters (admins), most calls first."""
    none = t("access.usage.user_none", lang)
    cost = t("access.usage.cost", lang, currency=currency)
    rows = [{t("access.usage.user", lang): u.user_id or none, t("access.usage.calls", lang): u.calls,
             t("access.usage.prompt", lang): u.prompt_tokens,
             t("access.usage.completion", lang): u.completion_tokens,
             t("access.usage.total", lang): u.total_tokens,
             cost: round(total_in(u.cost_by_currency, currency, table.convert), 6)}
            for u in ledger.by_user(flt)]
    st.dataframe(rows, hide_index=True, key="usage.by_user")
    st.caption(t("access.usage.users_caption", lang, currency=currency))


def render_prices(table: PriceTable, data_dir: Path, ledger: Ledger | None, lang: str,
                  editable: bool = True) -> PriceTable:
    """The price table editor and, with a ledger, the button that re-prices recorded calls; read
    only when not `editable` (the prices are the whole team's: with sign-in, admins change them)."""
    st.subheader(t("usage.prices_title", lang))
    if not editable:
        render_price_view(table, lang)
        return table
    table = render_price_editor(table, data_dir, lang)
    if ledger is not None:
        st.button(t("usage.recompute", lang), key="usage.recompute", icon=":material/calculate:",
                  help=t("usage.recompute_help", lang), on_click=_recompute, args=(ledger, data_dir))
        st.caption(t("usage.recompute_help", lang))
        count = st.session_state.pop(RECOMPUTED_KEY, None)
        if count is not None:
            st.success(t("usage.recomputed", lang, count=f"{count:,}"), icon=":material/check:")
    return table


def _recompute(ledger: Ledger, data_dir: Path) -> None:
    """Re-price every recorded call with the saved price table (before the page is drawn again,
    so the figures above show the new costs)."""
    table = PriceTable.load(data_dir)
    st.session_state[RECOMPUTED_KEY] = ledger.recompute_costs(table.cost)  # no tokens: no cost (the ledger)


def render_recording(lang: str) -> None:
    """The "store message text" switch (off by default), with what it means."""
    st.subheader(t("usage.settings_title", lang))
    durable(STORE_TEXT_KEY, lambda: False)
    bound(st.toggle, t("usage.store_text", lang), st.session_state, STORE_TEXT_KEY,
          "widget.usage.store_text", help=t("usage.store_text_help", lang))
    st.caption(t("usage.store_text_help", lang))
    if st.session_state.get(STORE_TEXT_KEY):
        st.info(t("usage.store_text_on", lang), icon=":material/visibility:")

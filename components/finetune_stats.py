"""Statistics of the open dataset with plotly histograms, and what training it would cost."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from components.finetune_state import (
    Workspace,
    data_dir,
    limit_of,
    md,
    problem_text,
    report,
    save,
    setting,
    stats,
)
from components.identity import is_admin
from core.errors import PlaygroundError
from core.finetune.dataset import Dataset
from core.finetune.stats import DatasetStats, Spread
from core.finetune.training_cost import estimate_cost, price_for, save_price
from core.i18n import t
from core.pricing import CURRENCIES
from core.pricing_display import format_money

EPOCHS_KEY = "widget.ft.epochs"
PRICE_KEY = "widget.ft.price"
CURRENCY_KEY = "widget.ft.price_currency"
SOURCE_KEY = "widget.ft.price_source"


def histogram(values: list[int], title: str, x_title: str, y_title: str,
              limit: int | None = None) -> go.Figure:
    fig = go.Figure(go.Histogram(x=values, nbinsx=min(40, max(5, len(set(values)))),
                                 marker_color="#1565c0"))
    if limit and values and limit <= max(values) * 1.5:
        fig.add_vline(x=limit, line_dash="dash", line_color="#c62828")
    fig.update_layout(title={"text": title}, xaxis_title=x_title, yaxis_title=y_title, bargap=0.05,
                      margin={"t": 48, "b": 8, "l": 8, "r": 8}, height=300)
    return fig


def _spread_row(name: str, found: Spread | None) -> dict[str, object]:
    if found is None:
        return {"": name}
    return {"": name, "min": f"{found.min:,.0f}", "median": f"{found.median:,.1f}".removesuffix(".0"),
            "p90": f"{found.p90:,.0f}", "max": f"{found.max:,.0f}"}


def render_stats(ws: Workspace, dataset: Dataset, lang: str) -> None:
    found: DatasetStats = stats(ws, dataset)
    if not found.measured:
        st.caption(t("finetune.editor.empty", lang) if not found.examples
                   else t("finetune.stats.none_measured", lang))
        return
    cols = st.columns(4)
    cols[0].metric(t("finetune.stats.examples", lang), f"{found.examples:,}")
    cols[1].metric(t("finetune.stats.total_tokens", lang), f"{found.total_tokens:,}")
    cols[2].metric(t("finetune.stats.without_system", lang), f"{found.without_system:,}")
    cols[3].metric(t("finetune.stats.over_limit", lang), f"{found.over_limit:,}",
                   help=t("finetune.stats.over_limit_help", lang, limit=f"{found.limit or 0:,}"))
    rows = [_spread_row(t("finetune.stats.messages", lang), found.messages),
            _spread_row(t("finetune.stats.tokens", lang), found.tokens),
            _spread_row(t("finetune.stats.assistant_tokens", lang), found.assistant_tokens)]
    st.dataframe(rows, hide_index=True, width="stretch")
    if found.measured < found.examples:
        st.caption(t("finetune.stats.unmeasured", lang, count=found.examples - found.measured))
    st.caption(t("finetune.stats.estimated", lang))
    count = t("finetune.stats.count", lang)
    charts = st.columns(3)
    charts[0].plotly_chart(histogram([e.tokens for e in found.per_example], t("finetune.stats.tokens", lang),
                                     t("finetune.stats.tokens_axis", lang), count, found.limit),
                           key="ft.chart.tokens")
    charts[1].plotly_chart(histogram([e.assistant_tokens for e in found.per_example],
                                     t("finetune.stats.assistant_tokens", lang),
                                     t("finetune.stats.tokens_axis", lang), count), key="ft.chart.assistant")
    charts[2].plotly_chart(histogram([e.messages for e in found.per_example],
                                     t("finetune.stats.messages", lang),
                                     t("finetune.stats.messages_axis", lang), count), key="ft.chart.messages")
    st.divider()
    render_cost(ws, dataset, found, lang)


def _set_epochs(ws: Workspace, dataset: Dataset) -> None:
    dataset.settings["epochs"] = int(st.session_state.get(EPOCHS_KEY) or 1)
    save(ws, examples_changed=False)


def _save_price(ws: Workspace, model: str, lang: str) -> None:
    if not is_admin():  # the form is only drawn for admins; a stale click changes nothing
        return
    try:
        price = save_price(data_dir(), model, st.session_state.get(PRICE_KEY),
                           st.session_state.get(CURRENCY_KEY), st.session_state.get(SOURCE_KEY) or "")
    except PlaygroundError as err:
        ws.flash = ("error", "finetune.cost.not_saved", {"reason": problem_text(err, lang)})
        return
    except OSError as err:
        ws.flash = ("error", "finetune.save_failed", {"reason": str(err)})
        return
    ws.revision += 1
    ws.flash = ("success", "finetune.cost.saved", {"model": price.model,
                                                   "price": format_money(price.per_m or 0, price.currency)})


def _price_form(ws: Workspace, model: str, lang: str) -> None:
    if not is_admin():  # the price table is the whole team's
        st.caption(t("access.prices.ask_admin", lang))
        return
    st.number_input(t("finetune.cost.price", lang), min_value=0.0, step=1.0, key=PRICE_KEY, width=220,
                    help=t("finetune.cost.price_help", lang))
    st.selectbox(t("pricing.col.currency", lang), list(CURRENCIES), key=CURRENCY_KEY, width=120)
    st.text_input(t("pricing.col.source", lang), key=SOURCE_KEY, help=t("pricing.help.source", lang))
    st.button(t("finetune.cost.save", lang), key="ft.save_price", icon=":material/save:",
              on_click=_save_price, args=(ws, model, lang))


def render_cost(ws: Workspace, dataset: Dataset, found: DatasetStats, lang: str) -> None:
    """Estimated training tokens (valid examples x epochs) and cost at the model's training price."""
    st.subheader(t("finetune.cost.title", lang))
    model = str(setting(dataset, "base_model"))
    st.session_state[EPOCHS_KEY] = int(setting(dataset, "epochs") or 1)
    st.number_input(t("finetune.cost.epochs", lang), min_value=1, max_value=50, key=EPOCHS_KEY, width=160,
                    on_change=_set_epochs, args=(ws, dataset), help=t("finetune.cost.epochs_help", lang))
    valid = set(range(1, found.examples + 1)) - report(ws, dataset).error_lines
    estimate = estimate_cost(found.tokens_of(valid), int(setting(dataset, "epochs") or 1),
                             price_for(model, data_dir()))
    cols = st.columns(2)
    cols[0].metric(t("finetune.cost.tokens", lang), f"{estimate.training_tokens:,}",
                   help=t("finetune.cost.tokens_help", lang, per_epoch=f"{estimate.tokens_per_epoch:,}",
                          epochs=estimate.epochs, valid=len(valid)))
    price = estimate.price
    if estimate.amount is not None and price is not None:
        cols[1].metric(t("finetune.cost.amount", lang), format_money(estimate.amount, price.currency))
        st.caption(t("finetune.cost.source", lang, model=md(model),
                     price=md(format_money(price.per_m or 0, price.currency)),
                     source=md(price.source or "—"), date=md(price.date or "—")))
        with st.popover(t("finetune.cost.edit", lang), icon=":material/edit:"):
            _price_form(ws, model, lang)
    else:
        cols[1].metric(t("finetune.cost.amount", lang), "—")
        st.warning(t("finetune.cost.unknown", lang, model=md(model)), icon=":material/price_change:")
        _price_form(ws, model, lang)
    st.caption(t("finetune.cost.note", lang, limit=f"{limit_of(dataset) or 0:,}"))

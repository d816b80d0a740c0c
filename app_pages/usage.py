"""Usage & cost page: the playground's model calls, filtered, charted, re-priced and exported."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from components.backend_picker import load_settings
from components.identity import current_user_id, is_admin
from components.language import current_language
from components.usage_filters import render_filters, render_money_settings, usage_settings
from components.usage_hook import LEDGER_ERROR_KEY
from components.usage_sections import (
    render_budget,
    render_by_user,
    render_charts,
    render_metrics,
    render_prices,
    render_recording,
    render_repricing,
    unpriced_models,
)
from components.usage_table import render_calls
from core.i18n import t
from core.markup import md as shown_name
from core.pricing import PriceTable
from core.usage_ledger import Ledger, LedgerUnavailable, UsageFilter, ledger_for
from core.usage_view import time_bucket, total_in

lang = current_language()
admin = is_admin()  # an admin (or anyone, without sign-in) sees every user's calls
only_user = None if admin else current_user_id()
settings = load_settings()
data_dir = settings.data_dir
table = PriceTable.load_cached(data_dir)

st.title(t("usage.title", lang))
st.caption(t("usage.subtitle", lang))


def show_unavailable(err: LedgerUnavailable) -> None:
    st.error(f"**{t('ledger.title', lang)}**\n\n{err.message(lang)}", icon=":material/database_off:")
    st.caption(t("usage.still_works", lang))


def show_record_error(err: object) -> None:
    """What the chat left when a call could not be recorded (a LedgerUnavailable or its words)."""
    text = err.message(lang) if isinstance(err, LedgerUnavailable) else t("ledger.not_recorded", lang,
                                                                          detail=err)
    st.error(f"**{t('ledger.title', lang)}**\n\n{text}", icon=":material/database_off:")
    st.caption(t("usage.record_fix", lang))


ledger: Ledger | None
try:
    ledger = ledger_for(settings)
except LedgerUnavailable as exc:
    ledger = None
    show_unavailable(exc)
if ledger is not None and st.session_state.get(LEDGER_ERROR_KEY):
    show_record_error(st.session_state[LEDGER_ERROR_KEY])


def render_usage(ledger: Ledger) -> bool:
    """Everything drawn from the ledger; False when nothing has been recorded yet."""
    if only_user is not None:
        st.caption(t("access.usage.own_only", lang, user=shown_name(only_user)))
    if not ledger.count(UsageFilter(users=(only_user,) if only_user is not None else ())):
        st.info(t("usage.empty", lang), icon=":material/query_stats:")
        st.page_link("app_pages/chat.py", label=t("usage.go_chat", lang), icon=":material/chat:")
        return False
    values = ledger.distinct_values()  # backends, models, pages and users seen: one lookup per run
    flt = render_filters(ledger, lang, only_user, values)
    currency, budget = render_money_settings(usage_settings(data_dir), table, data_dir, lang)
    view = ledger.overview(flt, time_bucket(flt.start, flt.end))  # one grouped pass
    summary = view.summary
    if not summary.calls:
        st.info(t("usage.no_match", lang), icon=":material/filter_alt_off:")
        return True
    cost = total_in(summary.cost_by_currency, currency, table.convert)
    tokens = view.tokens_by_model
    render_budget(cost, budget, currency, lang)
    users = admin and any(values.get("users", []))  # calls of signed-in users
    names = [t("usage.tab_overview", lang), t("usage.tab_reprice", lang), t("usage.tab_calls", lang)]
    names += [t("access.usage.tab_users", lang)] if users else []
    overview, repriced, calls, *by_user = st.tabs(names)
    with overview:
        render_metrics(summary, cost, currency, lang)
        missing = unpriced_models(tokens, table)
        if missing:
            st.caption(t("usage.unpriced", lang, models=", ".join(missing)))
        render_charts(flt, view, table, currency, lang)
    with repriced:
        render_repricing(tokens, table, currency, lang)
    with calls:
        render_calls(ledger, flt, summary.calls, lang)
    for tab in by_user:
        with tab:
            render_by_user(ledger, flt, table, currency, lang)
    return True


recorded = False
if ledger is not None:
    try:
        recorded = render_usage(ledger)
    except LedgerUnavailable as exc:
        ledger = None
        show_unavailable(exc)
    except SQLAlchemyError:  # the database went away after it was opened (the driver's words may
        show_unavailable(LedgerUnavailable("ledger.unavailable", url=ledger.display_url))  # hold secrets)
        ledger = None

st.divider()
with st.expander(t("usage.tab_prices", lang), expanded=not recorded):
    render_prices(table, data_dir, ledger, lang, editable=admin)  # the team's prices: admins change them
    render_recording(lang)

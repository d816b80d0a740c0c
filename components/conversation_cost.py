"""The chat page's running cost: one caption with what the conversation's answers cost so far."""

from __future__ import annotations

import streamlit as st

from components.backend_picker import load_settings
from core.i18n import t
from core.markup import md as _md
from core.messages import Conversation, Role
from core.pricing import PriceTable
from core.pricing_display import ConversationCost, conversation_summary, format_money


def price_table() -> PriceTable:
    """The prices in force: the saved copy in the data directory, read again only when it changes."""
    return PriceTable.load_cached(load_settings().data_dir)


def cost_line(summary: ConversationCost, lang: str) -> str:
    """'This conversation so far: ¥0.0123 (1,234 tokens)', plus what is not counted."""
    tokens = f"{summary.tokens:,}"
    if summary.priced:
        cost = _md(format_money(summary.amount, summary.currency))
        parts = [t("pricing.conversation.cost", lang, cost=cost, tokens=tokens)]
    else:
        parts = [t("pricing.conversation.tokens_only", lang, tokens=tokens)]
    if summary.unpriced_models:
        parts.append(t("pricing.conversation.no_price", lang, models=_md(", ".join(summary.unpriced_models))))
    if summary.without_usage:
        parts.append(t("pricing.conversation.no_usage", lang, count=summary.without_usage))
    return " · ".join(parts)


def render_conversation_cost(conv: Conversation, lang: str) -> None:
    """One caption under the title; nothing while the conversation has no answer from a model."""
    stats = [m.stats for m in conv.messages if m.role is Role.ASSISTANT and m.stats]
    if not stats:
        return
    try:
        table = price_table()
    except (OSError, ValueError):  # a broken price file must never take the chat page down
        return
    st.caption(cost_line(conversation_summary(stats, table), lang))

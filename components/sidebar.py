"""The shared sidebar: language, backend picker and the model's parameters, drawn on every page."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.access_gate import render_account
from components.backend_picker import Selection, picker_state, render_picker
from components.language import language_switch
from components.parameter_panel import render_parameters
from components.saved_conversations_list import render_saved_conversations
from core.i18n import t

SELECTION_KEY = "ui.selection"


def render_sidebar() -> str:
    """Draw the sidebar; the selection is kept for the page to read. Returns the language."""
    with st.sidebar:
        lang = language_switch()
        render_account(lang)  # who is signed in, and sign-out (team deployments only)
        st.subheader(t("sidebar.model", lang))
        selection = render_picker(lang)
        schema = selection.backend.schema(selection.endpoint, selection.model)
        params = picker_state()["params"]
        values = params.setdefault(selection.slot, schema.defaults())
        for name, default in schema.defaults().items():
            values.setdefault(name, default)
        with st.expander(t("sidebar.parameters", lang), expanded=True):
            render_parameters(schema, values, selection.slot, lang)
        render_saved_conversations(lang)  # open, rename or delete a saved conversation
    st.session_state[SELECTION_KEY] = (selection, values)
    return lang


def current_selection() -> tuple[Selection, dict[str, Any]]:
    """What the sidebar drew in this run: the target and the parameter values to send."""
    return st.session_state[SELECTION_KEY]

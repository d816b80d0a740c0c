"""The UI language: the browser's locale at first, then the user's choice in the sidebar."""

from __future__ import annotations

import streamlit as st

from core.i18n import LANGUAGE_NAMES, LANGUAGES, language_for_locale

LANG_KEY = "ui.lang"


def current_language() -> str:
    """The chosen language; on a session's first run, the one the browser asks for."""
    if LANG_KEY not in st.session_state:
        try:
            locale = st.context.locale
        except Exception:
            locale = None
        st.session_state[LANG_KEY] = language_for_locale(locale)
    return st.session_state[LANG_KEY]


def language_switch() -> str:
    """A two-way switch 中文 / English in the sidebar; returns the language now in force."""
    lang = current_language()
    widget_key = "widget.lang"
    st.session_state[widget_key] = lang

    def changed() -> None:
        choice = st.session_state.get(widget_key)
        if choice in LANGUAGES:
            st.session_state[LANG_KEY] = choice

    st.segmented_control("Language / 语言", LANGUAGES, format_func=LANGUAGE_NAMES.get,
                         key=widget_key, on_change=changed, label_visibility="collapsed",
                         required=True)
    return st.session_state[LANG_KEY]

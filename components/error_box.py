"""An error in plain words: what happened and what to do, with the provider's code and details."""

from __future__ import annotations

import streamlit as st

from core.error_text import explain
from core.errors import PlaygroundError
from core.i18n import t


def show_error(err: PlaygroundError, lang: str) -> None:
    """Draw one error. The provider's own text goes in a code block: shown, never rendered."""
    text = explain(err, lang)
    body = f"**{text.title}**  \n{text.fix}"
    if text.code_line:
        body += f"  \n{text.code_line}"
    st.error(body, icon=":material/error:")
    if text.detail:
        with st.expander(t("error.details", lang)):
            st.code(text.detail, language=None, wrap_lines=True)

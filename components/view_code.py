""""View code": the current request as Python (openai, zhipuai) and curl, and the migration view.

Keys appear only as the environment variable that holds them. The code sends the request the page
would send (core.compare.codegen), so running it gives the answer the page shows.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.compare_state import TargetChoice
from components.error_box import show_error
from core.compare.codegen import (
    CodeRequest,
    code_request,
    curl,
    migration,
    openai_python,
    zhipuai_python,
)
from core.compare.translation import Translation
from core.error_text import explain
from core.errors import PlaygroundError
from core.i18n import t
from core.messages import Conversation


def render_code_tabs(req: CodeRequest, lang: str) -> None:
    """Three tabs: openai SDK, zhipuai SDK, curl; a tab that does not apply says why."""
    tabs = st.tabs([t("code.tab_openai", lang), t("code.tab_zhipuai", lang), t("code.tab_curl", lang)])
    for tab, code, missing in ((tabs[0], openai_python(req), "code.no_openai"),
                               (tabs[1], zhipuai_python(req), "code.no_zhipuai")):
        with tab:
            if code is None:
                st.info(t(missing, lang), icon=":material/info:")
            else:
                st.code(code, language="python")
    with tabs[2]:
        st.code(curl(req), language="bash")
    if req.key_env:
        st.caption(t("code.key_env", lang, env=req.key_env))


def _stream_toggle(key: str, lang: str) -> bool:
    return st.toggle(t("code.stream", lang), key=key, help=t("code.stream_help", lang))


def render_view_code(conv: Conversation, selection: Any, values: dict[str, Any], lang: str) -> None:
    """The chat page's "View code": the conversation and the sidebar's model and parameters."""
    with st.expander(t("code.title", lang), icon=":material/code:"):
        if selection.backend.id == "local":
            st.info(t("code.no_code_local", lang), icon=":material/info:")
            return
        stream = _stream_toggle("code.chat.stream", lang)
        messages = conv.to_api()
        while messages and messages[-1]["role"] == "assistant":  # the request behind the last answer
            messages.pop()
        try:
            req = code_request(selection.backend, selection.endpoint, selection.connection.base_url,
                               selection.model_id, messages, values, stream=stream)
        except PlaygroundError as err:  # the page shows the error itself when Run is pressed
            text = explain(err, lang)
            st.warning(f"{t('code.not_yet', lang)}  \n{text.fix}", icon=":material/code_off:")
            return
        st.caption(t("code.conversation_note", lang))
        render_code_tabs(req, lang)


def target_request(choice: TargetChoice, translation: Translation, messages: list[dict[str, Any]],
                   stream: bool = False) -> CodeRequest:
    return code_request(choice.backend, choice.endpoint, choice.connection.base_url, choice.model_id,
                        messages, translation.values, translation.extra, stream=stream)


def render_target_code(choice: TargetChoice, translation: Translation, messages: list[dict[str, Any]],
                       lang: str) -> None:
    """One compare column's "View code"."""
    with st.expander(t("code.title", lang), icon=":material/code:"):
        stream = _stream_toggle(f"code.cmp.{choice.index}.stream", lang)
        try:
            req = target_request(choice, translation, messages, stream)
        except PlaygroundError as err:
            show_error(err, lang)
            return
        render_code_tabs(req, lang)


def render_migration(choices: list[TargetChoice], translations: list[Translation],
                     messages: list[dict[str, Any]], lang: str) -> None:
    """The GPT code and the GLM code side by side, the three changed lines marked."""
    with st.expander(t("code.migration_title", lang), icon=":material/compare_arrows:"):
        usable = [i for i, c in enumerate(choices) if c.backend.id in ("openai", "zhipu")]
        if len(usable) < 2:
            st.info(t("code.migration_need_two", lang), icon=":material/info:")
            return
        glm = [i for i in usable if choices[i].endpoint.family == "glm"]
        other = [i for i in usable if i not in glm]
        first = other[0] if other else usable[0]
        second = glm[0] if glm and glm[0] != first else next(i for i in usable if i != first)
        row = st.columns(2)
        label = {i: choices[i].label for i in usable}
        before = row[0].selectbox(t("code.migration_from", lang), usable, index=usable.index(first),
                                  format_func=label.get, key="code.migration.from")
        after = row[1].selectbox(t("code.migration_to", lang), usable, index=usable.index(second),
                                 format_func=label.get, key="code.migration.to")
        try:
            view = migration(target_request(choices[before], translations[before], messages),
                             target_request(choices[after], translations[after], messages), lang)
        except PlaygroundError as err:
            show_error(err, lang)
            return
        kinds = [c.kind for c in view.changed]
        st.caption(t("code.migration_only_three" if view.only_three else "code.migration_more", lang,
                     count=len(view.changed), others=kinds.count("other")))
        left, right = st.columns(2)
        left.code(view.before, language="python")
        right.code(view.after, language="python")
        st.caption(t("code.migration_diff", lang))
        st.code(view.diff, language="diff")

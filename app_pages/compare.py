"""Compare & migrate page: one conversation on 2 to 4 targets side by side, what each was sent, the code."""

from __future__ import annotations

import streamlit as st

from components.compare_autosave import autosave_compare, restore_compare
from components.compare_results import render_last_round, run_round
from components.compare_state import compare_state
from components.compare_targets import render_notes, render_source, render_targets, translation_for
from components.compare_variables import first_case, missing_text, render_variables, variables_in
from components.error_box import show_error
from components.language import current_language
from components.message_editor import editing, render_add_buttons, render_messages, render_system
from components.presets_panel import apply_to_compare, compare_snapshot, render_presets_panel
from components.view_code import render_migration, render_target_code
from core.compare.variables import fill_messages
from core.errors import ErrorKind, PlaygroundError
from core.i18n import t
from core.messages import Role, check_sendable

PENDING_KEY = "cmp.pending"

lang = current_language()
state = compare_state()
restore_compare(state)  # a refreshed page gets its targets, parameters and conversation back


def _request() -> None:
    st.session_state[PENDING_KEY] = True


def _submit() -> None:
    text = st.session_state.get("cmp.input")
    if text and text.strip():
        state.conv.add(Role.USER, text)
        _request()


def _clear() -> None:
    state.conv.clear()
    state.rounds.clear()
    state.error = None
    editing().clear()


st.title(t("compare.title", lang))
st.caption(t("compare.subtitle", lang))
presets_slot = st.container()

choices, columns = render_targets(state, lang)
render_source(state, lang)
translations = None
try:
    translations = [translation_for(choice, state) for choice in choices]
except PlaygroundError as err:
    show_error(err, lang)

st.subheader(t("compare.conversation", lang))
render_system(state.conv, lang)
render_messages(state.conv, lang)
render_add_buttons(state.conv, lang)
names = variables_in(state)
messages = state.conv.to_api()
if names and first_case(state, names) is not None:
    messages = fill_messages(messages, first_case(state, names) or {})
if translations is not None:
    for column, choice, translation in zip(columns, choices, translations, strict=True):
        with column:
            render_notes(translation, lang)
            render_target_code(choice, translation, messages, lang)

actions = st.container(horizontal=True, vertical_alignment="center")
actions.button(t("compare.run", lang), key="cmp.run", type="primary", icon=":material/play_arrow:",
               on_click=_request, disabled=translations is None, help=t("compare.run_help", lang))
actions.button(t("compare.clear", lang), key="cmp.clear", icon=":material/delete_sweep:", on_click=_clear,
               disabled=not state.conv.messages and not state.rounds)
answer_slot = st.container()
if state.error is not None:
    show_error(state.error, lang)
render_last_round(state, lang)
render_variables(state, choices, translations, lang)
if translations is not None:
    render_migration(choices, translations, messages, lang)
with presets_slot:
    render_presets_panel("compare", compare_snapshot(state, choices), apply_to_compare(state), lang)

st.chat_input(t("compare.input_placeholder", lang), key="cmp.input", submit_mode="disable",
              on_submit=_submit)

autosave_compare(state, choices)

if st.session_state.pop(PENDING_KEY, None) and translations is not None:
    state.error = None
    problem = missing_text(state, names, lang) if names else ""
    try:
        if problem:
            raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "compare.vars.fill_first"})
        check_sendable(messages)
    except PlaygroundError as err:
        state.error = err
        st.rerun()
    with answer_slot:
        run_round(state, choices, translations, messages, lang)

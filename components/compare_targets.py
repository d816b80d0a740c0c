"""The compare page's targets: 2 to 4 columns, each a backend, endpoint, model, key and parameters.

Each column is drawn with the sidebar picker's own controls (base URL, model list, custom model
id) on its own slot, and takes its key as the picker does: a key typed in this tab (shared with
the sidebar, memory only), else the environment or secrets.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from backends.base import Backend, Connection, Endpoint
from backends.registry import BACKENDS, get_backend
from components.backend_picker import (
    _base_url,
    _model_choice,
    key_slot,
    load_settings,
    typed_keys,
)
from components.compare_state import (
    LETTERS,
    MAX_TARGETS,
    MIN_TARGETS,
    TARGET_BACKENDS,
    CompareState,
    TargetChoice,
    default_base_url,
    default_targets,
    new_target,
    source_values,
    target_slot,
)
from components.parameter_panel import render_parameters
from components.sidebar import current_selection
from components.state import bound
from core.compare.translation import Translation, translate
from core.config import mask_key
from core.i18n import t
from core.markup import md


def render_targets(state: CompareState, lang: str) -> tuple[list[TargetChoice], list[Any]]:
    """Draw the columns; return what each one chose and the columns (for the notes under them)."""
    if len(state.targets) < MIN_TARGETS:  # first visit, or a preset that named one model
        selection, _ = current_selection()
        defaults = default_targets(selection.backend.id, selection.endpoint, selection.model_id,
                                   selection.connection.base_url)
        state.targets += defaults[len(state.targets):]
    columns = st.columns(len(state.targets))
    choices = []
    for i, (column, target) in enumerate(zip(columns, state.targets, strict=True)):
        with column, st.container(border=True):
            choices.append(_target(i, target, state, lang))
    if len(state.targets) < MAX_TARGETS:
        st.button(t("compare.targets.add", lang), key="cmp.add_target", icon=":material/add:",
                  on_click=_add, args=(state, choices[-1]), help=t("compare.targets.add_help", lang))
    return choices, columns


def _add(state: CompareState, last: TargetChoice) -> None:
    if len(state.targets) < MAX_TARGETS:
        state.targets.append(new_target(last.backend.id, last.endpoint.id, last.model_id,
                                        last.connection.base_url))


def _remove(state: CompareState, target_id: str) -> None:
    if len(state.targets) > MIN_TARGETS:
        state.targets[:] = [tg for tg in state.targets if tg["id"] != target_id]


def _target(i: int, target: dict[str, Any], state: CompareState, lang: str) -> TargetChoice:
    tid = target["id"]
    head = st.container(horizontal=True, vertical_alignment="center")
    head.markdown(f"**{t('compare.targets.label', lang, letter=LETTERS[i])}**")
    if len(state.targets) > MIN_TARGETS:
        head.button("", key=f"cmp.remove.{tid}", icon=":material/close:", type="tertiary",
                    help=t("compare.targets.remove", lang), on_click=_remove, args=(state, tid))
    if target.get("backend") not in TARGET_BACKENDS:
        target["backend"] = TARGET_BACKENDS[0]
    bound(st.selectbox, t("picker.backend", lang), target, "backend", f"widget.cmp.{tid}.backend",
          options=list(TARGET_BACKENDS), format_func=lambda b: t(BACKENDS[b].label_key, lang))
    backend = get_backend(target["backend"])
    endpoint = _endpoint(backend, target, tid, lang)
    slot = target_slot(target)
    target["base_url"].setdefault(slot, default_base_url(backend.id, endpoint))
    base_url = _base_url(endpoint, target, slot, lang)
    model_id = _model_choice(endpoint, target, slot, lang)
    key, source = _key(backend, endpoint, tid, lang)
    conn = Connection(base_url=base_url, api_key=key, timeout_s=load_settings().timeout_s)
    model = backend.model_info(endpoint, model_id)
    bound(st.toggle, t("compare.targets.own_params", lang), target, "own", f"widget.cmp.{tid}.own",
          help=t("compare.targets.own_params_help", lang))
    own = None
    if target.get("own"):
        schema = backend.schema(endpoint, model)
        own = target["params"].setdefault(slot, schema.defaults())
        for name, default in schema.defaults().items():
            own.setdefault(name, default)
        with st.expander(t("compare.targets.params_title", lang)):
            render_parameters(schema, own, slot, lang)
    return TargetChoice(i, backend, endpoint, model_id, model, conn, own, source)


def _endpoint(backend: Backend, target: dict[str, Any], tid: str, lang: str) -> Endpoint:
    choices = target.setdefault("endpoint", {})
    by_id = {e.id: e for e in backend.endpoints}
    if choices.get(backend.id) not in by_id:
        choices[backend.id] = backend.endpoints[0].id
    if len(backend.endpoints) > 1:
        bound(st.selectbox, t("picker.endpoint", lang), choices, backend.id,
              f"widget.cmp.{tid}.endpoint.{backend.id}", options=list(by_id),
              format_func=lambda e: t(by_id[e].label_key, lang))
    return backend.endpoint(choices[backend.id])


def _key(backend: Backend, endpoint: Endpoint, tid: str, lang: str) -> tuple[str | None, str | None]:
    """The key as the sidebar picker finds it (typed in this tab, else environment / secrets) and
    where it came from."""
    if not endpoint.key_envs and not endpoint.key_required:
        return None, None
    keys = typed_keys()
    slot = key_slot(backend, endpoint)
    if slot in keys:
        st.caption(t("picker.key_typed", lang, masked=mask_key(keys[slot])))
        return keys[slot], "typed"
    key, source = load_settings().key_for(endpoint.key_envs)
    if key:
        st.caption(t("picker.key_from_env", lang, name=source))
        return key, source
    widget_key = f"widget.cmp.{tid}.api_key.{slot}"

    def take_typed() -> None:
        value = (st.session_state.get(widget_key) or "").strip()
        if value:
            keys[slot] = value
        st.session_state[widget_key] = ""  # the key must not travel back to the page

    st.text_input(t("picker.key_input", lang), type="password", key=widget_key, on_change=take_typed,
                  placeholder=t("picker.key_placeholder", lang), help=t("picker.key_help", lang))
    if endpoint.key_required:
        st.caption(t("picker.key_missing", lang, envs=", ".join(endpoint.key_envs)))
    return None, None


def render_source(state: CompareState, lang: str) -> None:
    """The shared request parameters, in GPT's words, with the response format."""
    from core.compare.translation import SOURCE_SCHEMA

    with st.expander(t("compare.source.title", lang), icon=":material/tune:"):
        st.caption(t("compare.source.help", lang))
        for name, default in SOURCE_SCHEMA.defaults().items():
            state.source.setdefault(name, default)
        render_parameters(SOURCE_SCHEMA, state.source, "cmp.source", lang)
        bound(st.selectbox, t("compare.source.response_format", lang), vars(state), "response_format",
              "widget.cmp.response_format", options=["", "text", "json_object", "json_schema"],
              format_func=lambda f: t(f"compare.source.format_{f or 'none'}", lang),
              help=t("compare.source.response_format_help", lang))
        if state.response_format == "json_schema":
            bound(st.text_area, t("compare.source.json_schema", lang), vars(state), "json_schema",
                  "widget.cmp.json_schema", help=t("compare.source.json_schema_help", lang), height=120)


def translation_for(choice: TargetChoice, state: CompareState) -> Translation:
    """What this column is sent: the shared parameters (or its own) through its schema's rules."""
    source = source_values(state)
    if choice.own_values is not None:
        source = {**choice.own_values, **({"response_format": source["response_format"]}
                                          if "response_format" in source else {})}
    return translate(source, choice.backend, choice.endpoint, choice.model)


def render_notes(translation: Translation, lang: str) -> None:
    """What this column receives differently from what was set, each with its reason."""
    if not translation.changes:
        st.caption(t("compare.targets.no_changes", lang))
        return
    with st.expander(t("compare.targets.notes_title", lang, count=len(translation.changes)),
                     icon=":material/swap_horiz:", expanded=True):
        for change in translation.changes:
            st.caption(md(change.text(lang)))

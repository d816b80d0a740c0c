"""Presets on a page: save, load, delete, export, import and share the whole setup.

One panel for both pages: the page gives how to take its setup as a Preset (`snapshot`) and how to
put one back (`apply`, which returns the notes of what was translated for the model). A link with
?preset=... loads its preset once when the page opens.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import streamlit as st

from backends.base import CUSTOM_MODEL
from backends.registry import BACKENDS, get_backend
from components.backend_picker import load_settings, picker_state
from components.compare_state import (
    FORMATS,
    MAX_TARGETS,
    CompareState,
    TargetChoice,
    new_target,
    source_values,
    target_slot,
)
from components.error_box import show_error
from components.message_editor import editing
from components.sidebar import current_selection
from core.compare.presets import (
    URL_PARAM,
    Preset,
    PresetStore,
    TargetSetup,
    clean_name,
    decode_url,
    encode_url,
    import_json,
)
from core.compare.translation import SOURCE_SCHEMA, translate
from core.errors import PlaygroundError
from core.i18n import t
from core.messages import Conversation, Message, Role

BACKEND_ENDPOINTS: dict[str, tuple[str, ...]] = {
    b.id: tuple(e.id for e in b.endpoints) for b in BACKENDS.values()}
Snapshot = Callable[[str], Preset]
Apply = Callable[[Preset], list[str]]


def preset_store() -> PresetStore:
    return PresetStore(load_settings().data_dir, BACKEND_ENDPOINTS)


def _notice_key(page: str) -> str:
    return f"preset.{page}.notice"


def _say(page: str, kind: str, text: str = "", error: PlaygroundError | None = None) -> None:
    """What the last preset action did, shown at the top of the panel on the next run."""
    st.session_state[_notice_key(page)] = (kind, text, error)


def _loaded(page: str, preset: Preset, notes: list[str], lang: str) -> None:
    text = t("preset.loaded", lang, name=preset.name)
    if notes:
        text += "  \n" + "  \n".join(f"• {n}" for n in notes)
    _say(page, "success", text)


def render_presets_panel(page: str, snapshot: Snapshot, apply: Apply, lang: str) -> None:
    """The Presets expander; also loads a preset named by the page's ?preset= link, once."""
    _from_link(page, apply, lang)
    store = preset_store()
    notice = st.session_state.get(_notice_key(page))
    with st.expander(t("preset.title", lang), icon=":material/bookmarks:", expanded=notice is not None):
        if notice is not None:
            kind, text, error = notice
            if error is not None:
                show_error(error, lang)
            elif kind == "success":
                st.success(text, icon=":material/check_circle:")
            else:
                st.info(text, icon=":material/info:")
        names = store.names()
        if names:
            row = st.container(horizontal=True, vertical_alignment="bottom")
            chosen = row.selectbox(t("preset.saved", lang), names, key=f"preset.{page}.chosen")
            row.button(t("preset.load", lang), key=f"preset.{page}.load", icon=":material/upload:",
                       on_click=_load, args=(page, store, chosen, apply, lang))
            row.button(t("preset.delete", lang), key=f"preset.{page}.delete", icon=":material/delete:",
                       on_click=_delete, args=(page, store, chosen, lang))
        else:
            st.caption(t("preset.none_saved", lang))
        row = st.container(horizontal=True, vertical_alignment="bottom")
        name_key = f"preset.{page}.name"
        row.text_input(t("preset.name", lang), key=name_key, placeholder=t("preset.name_placeholder", lang))
        row.button(t("preset.save", lang), key=f"preset.{page}.save", icon=":material/save:",
                   on_click=_save, args=(page, store, name_key, snapshot, lang))
        name = (st.session_state.get(name_key) or "").strip() or t("preset.default_name", lang)
        _export_import(page, store, snapshot, apply, name, lang)


def _export_import(page: str, store: PresetStore, snapshot: Snapshot, apply: Apply, name: str,
                   lang: str) -> None:
    try:
        current = snapshot(name)
    except PlaygroundError as err:
        show_error(err, lang)
        return
    row = st.container(horizontal=True, vertical_alignment="bottom")
    row.download_button(t("preset.export", lang), current.to_json().encode("utf-8"),
                        file_name=f"{name}.json", mime="application/json", key=f"preset.{page}.export",
                        icon=":material/download:", on_click="ignore")
    if row.button(t("preset.share", lang), key=f"preset.{page}.share", icon=":material/link:",
                  help=t("preset.share_help", lang)):
        try:
            link = f"{st.context.url or ''}?{URL_PARAM}={encode_url(current)}"
            st.caption(t("preset.share_link", lang))
            st.code(link, language=None, wrap_lines=True)
        except PlaygroundError as err:
            show_error(err, lang)
    version_key = f"preset.{page}.upload_version"
    upload_key = f"preset.{page}.upload.{st.session_state.get(version_key, 0)}"
    st.file_uploader(t("preset.import_file", lang), type=["json"], key=upload_key,
                     on_change=_import, args=(page, store, upload_key, version_key, apply, lang))


def _from_link(page: str, apply: Apply, lang: str) -> None:
    value = st.query_params.get(URL_PARAM)
    if not value:
        return
    del st.query_params[URL_PARAM]  # loaded once: a refresh must not undo what was edited since
    try:
        preset = decode_url(value, BACKEND_ENDPOINTS)
        _loaded(page, preset, apply(preset), lang)
    except PlaygroundError as err:
        _say(page, "error", error=err)
    st.rerun()  # the sidebar was drawn before the page: draw it again with the preset's model


def _load(page: str, store: PresetStore, name: str, apply: Apply, lang: str) -> None:
    try:
        preset = store.load(name)
        _loaded(page, preset, apply(preset), lang)
    except PlaygroundError as err:
        _say(page, "error", error=err)


def _delete(page: str, store: PresetStore, name: str, lang: str) -> None:
    try:
        store.delete(name)
        _say(page, "info", t("preset.deleted", lang, name=name))
    except OSError as err:
        _say(page, "info", t("preset.disk_error", lang, reason=type(err).__name__))


def _save(page: str, store: PresetStore, name_key: str, snapshot: Snapshot, lang: str) -> None:
    try:
        preset = snapshot(st.session_state.get(name_key) or "")
        replaced = store.exists(preset.name)
        store.save(preset)
        _say(page, "success", t("preset.replaced" if replaced else "preset.saved_ok", lang, name=preset.name))
    except PlaygroundError as err:
        _say(page, "error", error=err)
    except OSError as err:
        _say(page, "info", t("preset.disk_error", lang, reason=type(err).__name__))


def _import(page: str, store: PresetStore, upload_key: str, version_key: str, apply: Apply,
            lang: str) -> None:
    upload = st.session_state.get(upload_key)
    if upload is None:
        return
    st.session_state[version_key] = st.session_state.get(version_key, 0) + 1  # an empty uploader next
    try:
        fallback = upload.name.rsplit(".", 1)[0]
        preset = import_json(upload.getvalue(), BACKEND_ENDPOINTS, fallback_name=fallback)
        store.save(preset)
        _loaded(page, preset, apply(preset), lang)
    except PlaygroundError as err:
        _say(page, "error", error=err)
    except OSError as err:
        _say(page, "info", t("preset.disk_error", lang, reason=type(err).__name__))


# ---- the chat page ------------------------------------------------------------------------------
def chat_snapshot(conv: Conversation) -> Snapshot:
    def take(name: str) -> Preset:
        selection, values = current_selection()
        url = selection.connection.base_url if selection.endpoint.base_url_editable else ""
        return Preset(clean_name(name), selection.backend.id, selection.endpoint.id, selection.model_id, url,
                      dict(values), conv.system, [m.to_api() for m in conv.messages])

    return take


def apply_to_chat(conv: Conversation, lang: str) -> Apply:
    """Put a preset into the sidebar (backend, endpoint, model, parameters through its schema's
    rules) and the conversation."""

    def put(preset: Preset) -> list[str]:
        backend = get_backend(preset.backend)
        endpoint = backend.endpoint(preset.endpoint or None)
        state = picker_state()
        state["backend"] = backend.id
        state["endpoint"][backend.id] = endpoint.id
        slot = f"{backend.id}/{endpoint.id}"
        if preset.model:
            known = any(m.id == preset.model for m in endpoint.models)
            state["model"][slot] = preset.model if known else CUSTOM_MODEL
            if not known:
                state["custom_model"][slot] = preset.model
        if preset.base_url and endpoint.base_url_editable:
            state["base_url"][slot] = preset.base_url
        model = backend.model_info(endpoint, preset.model)
        translation = translate(preset.params, backend, endpoint, model)
        state["params"][slot] = backend.schema(endpoint, model).merge(translation.values)
        conv.system = preset.system
        conv.messages[:] = [Message(Role(m["role"]), m["content"]) for m in preset.messages]
        editing().clear()
        return [c.text(lang) for c in translation.changes]

    return put


def render_chat_presets(conv: Conversation, lang: str) -> None:
    """The chat page's one call: a Presets expander for the conversation and the sidebar's model."""
    render_presets_panel("chat", chat_snapshot(conv), apply_to_chat(conv, lang), lang)


# ---- the compare page ---------------------------------------------------------------------------
def compare_snapshot(state: CompareState, choices: list[TargetChoice]) -> Snapshot:
    def take(name: str) -> Preset:
        targets = [TargetSetup(c.backend.id, c.endpoint.id, c.model_id,
                               c.connection.base_url if c.endpoint.base_url_editable else "",
                               dict(c.own_values) if c.own_values is not None else None) for c in choices]
        first = targets[0]
        return Preset(clean_name(name), first.backend, first.endpoint, first.model, first.base_url,
                      source_values(state), state.conv.system,
                      [m.to_api() for m in state.conv.messages], targets)

    return take


def apply_to_compare(state: CompareState) -> Apply:
    """Put a preset into the compare page: its targets (or its one model as target A), the shared
    parameters and the conversation."""

    def put(preset: Preset) -> list[str]:
        setups = preset.targets or [TargetSetup(preset.backend, preset.endpoint, preset.model,
                                                preset.base_url)]
        targets = []
        for setup in setups[:MAX_TARGETS]:
            target = new_target(setup.backend, setup.endpoint, setup.model, setup.base_url)
            if setup.params is not None:
                target["own"] = True
                target["params"][target_slot(target)] = dict(setup.params)
            targets.append(target)
        state.targets = targets + state.targets[len(targets):] if not preset.targets else targets
        params = dict(preset.params)
        fmt = params.pop("response_format", None)
        state.source = SOURCE_SCHEMA.merge(params)
        state.response_format = fmt.get("type", "") if isinstance(fmt, dict) else ""
        if state.response_format not in FORMATS:
            state.response_format = ""
        if isinstance(fmt, dict) and isinstance(fmt.get("json_schema"), dict):
            state.json_schema = json.dumps(fmt["json_schema"], ensure_ascii=False, indent=1)
        state.conv.system = preset.system
        state.conv.messages[:] = [Message(Role(m["role"]), m["content"]) for m in preset.messages]
        editing().clear()
        return []

    return put

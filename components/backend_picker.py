"""Sidebar picker: backend, endpoint, model and API key, remembered for the browser session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from backends.base import CUSTOM_MODEL, Backend, Connection, Endpoint, ModelInfo
from backends.chatglm_http import URL_ENV as CHATGLM_URL_ENV
from backends.registry import BACKENDS, DEFAULT_BACKEND, get_backend
from components.finetune_models import fine_tuned_models
from components.state import bound, durable
from core.config import Settings, endpoint_for_url, mask_key
from core.i18n import has, t

SETTINGS_KEY = "picker.settings"
KEYS_KEY = "picker.typed_keys"  # API keys typed in this tab: memory only, never written anywhere


@dataclass
class Selection:
    """What the sidebar says the next call goes to."""

    backend: Backend
    endpoint: Endpoint
    model_id: str
    model: ModelInfo
    connection: Connection
    key_source: str | None  # "typed", an environment / secrets variable name, or None

    @property
    def slot(self) -> str:
        return f"{self.backend.id}/{self.endpoint.id}"


def load_settings() -> Settings:
    try:
        secrets: dict[str, Any] = dict(st.secrets)
    except Exception:
        secrets = {}
    return Settings.load(secrets)


def _initial(settings: Settings) -> dict[str, Any]:
    """First-run choices from PLAYGROUND_BACKEND / PLAYGROUND_MODEL / *_BASE_URL."""
    backend_id = settings.backend if settings.backend in BACKENDS else DEFAULT_BACKEND
    state: dict[str, Any] = {"backend": backend_id, "endpoint": {}, "model": {}, "custom_model": {},
                             "base_url": {}, "params": {}, "stream": True, "local": {}}
    openai_url = settings.get("OPENAI_BASE_URL")
    openai_endpoint = endpoint_for_url(openai_url)
    if openai_endpoint:
        state["endpoint"]["openai"] = openai_endpoint
        state["base_url"][f"openai/{openai_endpoint}"] = openai_url
    zhipu_url = settings.get("ZHIPUAI_BASE_URL")
    if zhipu_url:
        state["base_url"]["zhipu/zhipu"] = zhipu_url
    chatglm_url = settings.get(CHATGLM_URL_ENV)
    if chatglm_url:
        state["base_url"]["chatglm_http/chatglm"] = chatglm_url
    if settings.model:
        backend = get_backend(backend_id)
        endpoint = backend.endpoint(state["endpoint"].get(backend_id))
        slot = f"{backend_id}/{endpoint.id}"
        known = any(m.id == settings.model for m in endpoint.models)
        state["model"][slot] = settings.model if known else CUSTOM_MODEL
        state["custom_model"][slot] = settings.model
    return state


def picker_state() -> dict[str, Any]:
    return durable(SETTINGS_KEY, lambda: _initial(load_settings()))


def restore_picker(saved: dict[str, Any]) -> None:
    """Put back the sidebar choices saved with a conversation, over this server's defaults.

    Only known fields of the right type are taken; anything else keeps its default.
    """
    state = _initial(load_settings())
    for name, default in state.items():
        if isinstance(saved.get(name), type(default)):
            state[name] = saved[name]
    st.session_state[SETTINGS_KEY] = state


def typed_keys() -> dict[str, str]:
    return durable(KEYS_KEY, dict)


def key_slot(backend: Backend, endpoint: Endpoint) -> str:
    """Where a typed key is kept: one Zhipu key serves both Zhipu endpoints."""
    return endpoint.key_envs[0] if endpoint.key_required else f"{backend.id}/{endpoint.id}"


def endpoint_connection(backend_id: str, endpoint_id: str,
                        settings: Settings | None = None) -> tuple[Connection, str | None]:
    """The connection the sidebar would use for an endpoint, without drawing anything (embeddings,
    cloud knowledge bases, fine-tune jobs): the base URL chosen there (else the endpoint's), the key
    typed there (else the server's), and where the key came from ("typed" or its variable)."""
    settings = settings or load_settings()
    backend = get_backend(backend_id)
    endpoint = backend.endpoint(endpoint_id)
    url = (picker_state()["base_url"].get(f"{backend_id}/{endpoint.id}") or endpoint.base_url).strip()
    typed = typed_keys().get(key_slot(backend, endpoint))
    key, source = (typed, "typed") if typed else settings.key_for(endpoint.key_envs)
    return Connection(base_url=url, api_key=key, timeout_s=settings.timeout_s), source


def render_picker(lang: str) -> Selection:
    """Draw the backend / endpoint / model / key controls and return the selection."""
    state = picker_state()
    ids = list(BACKENDS)
    if state.get("backend") not in BACKENDS:
        state["backend"] = DEFAULT_BACKEND
    bound(st.selectbox, t("picker.backend", lang), state, "backend", "widget.backend", options=ids,
          format_func=lambda b: t(BACKENDS[b].label_key, lang))
    backend = get_backend(state["backend"])
    if backend.id == "local":  # a model in this server: its own panel instead of URL, model list, key
        from components.local_model_panel import render_local_model

        endpoint = backend.endpoints[0]
        model_id, conn = render_local_model(backend, state, load_settings(), lang)
        return Selection(backend, endpoint, model_id, backend.model_info(endpoint, model_id), conn, None)
    endpoint = _endpoint_choice(backend, state, lang)
    slot = f"{backend.id}/{endpoint.id}"
    base_url = _base_url(endpoint, state, slot, lang)
    model_id = _model_choice(endpoint, state, slot, lang)
    settings = load_settings()
    key, source = _key_field(backend, endpoint, settings, lang)
    conn = Connection(base_url=base_url, api_key=key, timeout_s=settings.timeout_s)
    return Selection(backend, endpoint, model_id, backend.model_info(endpoint, model_id), conn, source)


def _endpoint_choice(backend: Backend, state: dict[str, Any], lang: str) -> Endpoint:
    if len(backend.endpoints) == 1:
        return backend.endpoints[0]
    choices = state["endpoint"]
    by_id = {e.id: e for e in backend.endpoints}
    if choices.get(backend.id) not in by_id:  # first visit, or a saved choice that no longer exists
        choices[backend.id] = backend.endpoints[0].id
    bound(st.selectbox, t("picker.endpoint", lang), choices, backend.id, f"widget.endpoint.{backend.id}",
          options=list(by_id), format_func=lambda e: t(by_id[e].label_key, lang))
    return backend.endpoint(choices[backend.id])


def _base_url(endpoint: Endpoint, state: dict[str, Any], slot: str, lang: str) -> str:
    urls = state["base_url"]
    urls.setdefault(slot, endpoint.base_url)
    if endpoint.base_url_editable:
        url_help = f"{endpoint.label_key}.url_help"  # an endpoint's own help, where it has one
        bound(st.text_input, t("picker.base_url", lang), urls, slot, f"widget.base_url.{slot}",
              help=t(url_help if has(url_help) else "picker.base_url_help", lang))
    else:
        st.caption(t("picker.base_url_fixed", lang, url=urls[slot]))
    return (urls.get(slot) or endpoint.base_url).strip()


def _model_choice(endpoint: Endpoint, state: dict[str, Any], slot: str, lang: str) -> str:
    models, customs = state["model"], state["custom_model"]
    listed = endpoint.models + fine_tuned_models(endpoint, load_settings().data_dir)  # fine-tune page's
    options = [m.id for m in listed] + [CUSTOM_MODEL]
    if models.get(slot) not in options:  # first visit, or a saved model no longer in the list
        models[slot] = options[0]
    notes = {m.id: m.note for m in listed}

    def label(model_id: str) -> str:
        if model_id == CUSTOM_MODEL:
            return t("picker.custom_model", lang)
        return f"{model_id} — {t(notes[model_id], lang)}" if notes.get(model_id) else model_id

    bound(st.selectbox, t("picker.model", lang), models, slot, f"widget.model.{slot}",
          options=options, format_func=label)
    if models[slot] != CUSTOM_MODEL:
        return models[slot]
    customs.setdefault(slot, "")
    bound(st.text_input, t("picker.custom_model_id", lang), customs, slot, f"widget.custom.{slot}",
          placeholder=t("picker.custom_model_placeholder", lang))
    return (customs.get(slot) or "").strip()


def _key_field(backend: Backend, endpoint: Endpoint, settings: Settings,
               lang: str) -> tuple[str | None, str | None]:
    """The key to use and where it came from. A typed key is moved out of the widget at once."""
    if not endpoint.key_envs and not endpoint.key_required:
        return None, None  # a server that takes no key at all (the ChatGLM API): no box for one
    keys = typed_keys()
    slot = key_slot(backend, endpoint)
    widget_key = f"widget.api_key.{slot}"

    def take_typed() -> None:
        value = (st.session_state.get(widget_key) or "").strip()
        if value:
            keys[slot] = value
        st.session_state[widget_key] = ""  # the key must not travel back to the page

    if slot in keys:
        st.caption(t("picker.key_typed", lang, masked=mask_key(keys[slot])))
        if st.button(t("picker.key_forget", lang), key=f"forget.{slot}"):
            keys.pop(slot, None)
            st.rerun()
        return keys.get(slot), "typed"
    key, source = settings.key_for(endpoint.key_envs)
    if key:
        st.caption(t("picker.key_from_env", lang, name=source))
    label = t("picker.key_input_other" if key else "picker.key_input", lang)
    st.text_input(label, type="password", key=widget_key, on_change=take_typed,
                  placeholder=t("picker.key_placeholder", lang), help=t("picker.key_help", lang))
    if not key and endpoint.key_required:
        st.caption(t("picker.key_missing", lang, envs=", ".join(endpoint.key_envs)))
    return key, source

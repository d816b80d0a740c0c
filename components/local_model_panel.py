"""Sidebar controls of the local model: which model, its own code or not, device and precision, and a
Load button with visible progress; then what is loaded and how much GPU memory it holds."""

from __future__ import annotations

from typing import Any

import streamlit as st

from backends.local import LoadSpec, LocalBackend, LocalConnection
from backends.local.cache import LoadedModel, gpu_memory
from backends.local.spec import DEVICES, DTYPES
from components.state import bound
from core.config import Settings
from core.error_text import explain
from core.errors import PlaygroundError
from core.i18n import t

LOAD_ERROR_KEY = "local.load_error"  # (spec, error) of the last failed Load, shown until it changes


def local_choices(state: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The panel's choices inside the picker's state (saved with a conversation, never a key)."""
    choices = state.get("local")
    if not isinstance(choices, dict):
        choices = state["local"] = {}
    if not isinstance(choices.get("model"), str):
        choices["model"] = settings.local_model or ""
    choices["remote_code"] = choices.get("remote_code") is True
    if choices.get("device") not in DEVICES:
        choices["device"] = "auto"
    if choices.get("dtype") not in DTYPES:
        choices["dtype"] = "auto"
    return choices


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_once(model: str, device: str, dtype: str, remote_code: bool, _backend: LocalBackend,
               _progress: Any = None) -> LoadedModel:
    """One load per process for every session (the backend's own cache keeps it for the chat)."""
    return _backend.load(LoadSpec(model, device, dtype, remote_code), _progress)


def render_local_model(backend: LocalBackend, state: dict[str, Any], settings: Settings,
                       lang: str) -> tuple[str, LocalConnection]:
    """Draw the panel; return the model id to ask and the connection (device, dtype, opt-in)."""
    choices = local_choices(state, settings)
    bound(st.text_input, t("local.model", lang), choices, "model", "widget.local.model",
          placeholder=t("local.model_placeholder", lang), help=t("local.model_help", lang))
    bound(st.checkbox, t("local.remote_code", lang), choices, "remote_code", "widget.local.remote_code",
          help=t("local.remote_code_help", lang))
    if choices["remote_code"]:
        st.warning(t("local.remote_code_warning", lang), icon=":material/warning:")
    else:
        st.caption(t("local.remote_code_off", lang))
    with st.expander(t("local.hardware", lang)):
        bound(st.selectbox, t("local.device", lang), choices, "device", "widget.local.device",
              options=list(DEVICES), format_func=lambda d: t(f"local.device_choice.{d}", lang))
        bound(st.selectbox, t("local.dtype", lang), choices, "dtype", "widget.local.dtype",
              options=list(DTYPES), format_func=lambda d: t(f"local.dtype_choice.{d}", lang),
              help=t("local.dtype_help", lang))
    conn = LocalConnection(base_url="local", timeout_s=settings.timeout_s, device=choices["device"],
                           dtype=choices["dtype"], remote_code=choices["remote_code"])
    model_id = choices["model"].strip()
    spec = conn.spec(model_id)
    if st.button(t("local.load", lang), key="local.load", icon=":material/memory:", disabled=not model_id,
                 help=t("local.load_help", lang), width="stretch"):
        _load_with_progress(backend, spec, lang)
    failed = st.session_state.get(LOAD_ERROR_KEY)
    if failed is not None and failed[0] == spec:
        _show_load_error(failed[1], lang)
    _show_loaded(backend, spec, lang)
    return model_id, conn


def _load_with_progress(backend: LocalBackend, spec: LoadSpec, lang: str) -> None:
    st.session_state.pop(LOAD_ERROR_KEY, None)
    with st.status(t("local.loading", lang, model=spec.model), expanded=True) as status:
        def progress(key: str, values: dict[str, Any]) -> None:
            status.write(t(key, lang, **values))

        try:
            loaded = _load_once(spec.model, spec.device, spec.dtype, spec.remote_code, backend, progress)
        except PlaygroundError as err:
            status.update(label=t("local.load_failed", lang), state="error", expanded=False)
            st.session_state[LOAD_ERROR_KEY] = (spec, err)
            return
        status.update(label=t("local.loaded_in", lang, seconds=loaded.load_s), state="complete",
                      expanded=False)


def _show_load_error(err: PlaygroundError, lang: str) -> None:
    """The reason and the fix; the library's own words folded underneath."""
    text = explain(err, lang)
    st.error(f"**{t('local.load_failed', lang)}**  \n{text.fix}", icon=":material/error:")
    if text.detail:
        with st.expander(t("error.details", lang)):
            st.code(text.detail, language=None, wrap_lines=True)


def _show_loaded(backend: LocalBackend, spec: LoadSpec, lang: str) -> None:
    loaded = backend.loaded(spec) if spec.model else None
    if loaded is None:
        st.caption(t("local.not_loaded", lang))
    else:
        window = loaded.context_window or t("local.unknown", lang)
        st.caption(t("local.loaded", lang, architecture=loaded.architecture,
                     parameters=_count(loaded.parameters), device=loaded.spec.device,
                     dtype=loaded.spec.dtype, window=window))
        if loaded.mode == "stream_chat":
            st.caption(t("local.loaded_remote", lang))
        busy = loaded.line.length
        if busy:
            st.caption(t("local.busy", lang, count=busy))
    memory = gpu_memory()
    if memory is None:
        st.caption(t("local.gpu_memory_na", lang))
    else:
        for gpu in memory:
            st.caption(t("local.gpu_memory", lang, name=gpu.name, allocated=_gb(gpu.allocated),
                         reserved=_gb(gpu.reserved), total=_gb(gpu.total)))
    everything = backend.models.loaded()
    others = [m.spec.describe() for m in everything if m is not loaded]
    if others:
        st.caption(t("local.others", lang, models="; ".join(others)))
    if everything and st.button(t("local.unload", lang), key="local.unload", icon=":material/eject:",
                                help=t("local.unload_help", lang)):
        _load_once.clear()
        backend.unload(None)
        st.rerun()


def _gb(size: int) -> str:
    return f"{size / 1024 ** 3:.1f} GiB"


def _count(parameters: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if parameters >= scale:
            return f"{parameters / scale:.1f} {unit}"
    return str(parameters)

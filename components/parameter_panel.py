"""Parameter controls drawn from a backend's schema, with the value actually sent shown beside."""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.state import bound
from core.i18n import t
from core.parameters import ParamKind, ParamSchema, ParamSpec, parse_stop_words


def fit_to_schema(schema: ParamSchema, values: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Bring stored values inside the current model's ranges; return what was changed."""
    changed = []
    for spec in schema:
        value = values.get(spec.name, spec.default)
        if spec.kind in (ParamKind.FLOAT, ParamKind.INT) and value is not None:
            fitted = value
            if spec.minimum is not None and value < spec.minimum:
                fitted = spec.minimum
            if spec.maximum is not None and value > spec.maximum:
                fitted = spec.maximum
            if spec.kind is ParamKind.INT:
                fitted = int(fitted)
            if fitted != value:
                changed.append((spec.name, value, fitted))
                value = fitted
        values[spec.name] = value
    return changed


def render_parameters(schema: ParamSchema, values: dict[str, Any], slot: str, lang: str) -> None:
    """Draw one control per parameter; `values` is updated in place and kept across pages."""
    for name, old, new in fit_to_schema(schema, values):
        st.info(t("params.fitted", lang, param=t(f"param.{name}", lang), old=old, new=new))
    for spec in schema:
        _control(spec, values, f"widget.param.{slot}.{spec.name}", lang)
    for adj in schema.adjustments(values):
        st.caption(t(adj.reason_key, lang, requested=adj.requested, sent=adj.sent))
    if st.button(t("params.reset", lang), key=f"reset.{slot}"):
        values.clear()
        values.update(schema.defaults())
        st.rerun()


def _control(spec: ParamSpec, values: dict[str, Any], key: str, lang: str) -> None:
    label = t(spec.label_key, lang)
    help_text = t(spec.help, lang)
    disabled = bool(spec.ignored_unless) and values.get(spec.ignored_unless) is False
    if disabled:
        help_text += "\n\n" + t("params.ignored_greedy", lang)
    common: dict[str, Any] = {"help": help_text, "disabled": disabled}
    if spec.kind is ParamKind.BOOL:
        bound(st.toggle, label, values, spec.name, key, **common)
    elif spec.kind is ParamKind.FLOAT:
        bound(st.slider, label, values, spec.name, key, min_value=float(spec.minimum),
              max_value=float(spec.maximum), step=float(spec.step or 0.01), **common)
    elif spec.kind is ParamKind.INT:
        bound(st.number_input, label, values, spec.name, key, min_value=int(spec.minimum),
              max_value=int(spec.maximum), step=int(spec.step or 1),
              placeholder=t("params.unset", lang), **common)
    else:
        _stop_control(spec, values, key, label, common, lang)


def _stop_control(spec: ParamSpec, values: dict[str, Any], key: str, label: str,
                  common: dict[str, Any], lang: str) -> None:
    """Stop words as text, one per line; more than the backend takes is refused on send."""
    shown = "\n".join(w.replace("\n", "\\n") for w in values.get(spec.name) or [])
    if st.session_state.get(key) is None or parse_stop_words(st.session_state[key]) != values.get(
            spec.name):
        st.session_state[key] = shown

    def write_back() -> None:
        words = parse_stop_words(st.session_state[key])
        values[spec.name] = words

    st.text_area(label, key=key, on_change=write_back, height=68, **common)
    if len(values.get(spec.name) or []) > spec.max_items:
        st.warning(t("validation.stop_too_many", lang, count=len(values[spec.name]),
                     maximum=spec.max_items, param=label))

"""Session-state helpers: durable values that outlive widgets, and widgets bound to them."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

import streamlit as st

T = TypeVar("T")


def durable(key: str, factory: Callable[[], T]) -> T:
    """A non-widget session value (kept when the user changes page), created on first use."""
    if key not in st.session_state:
        st.session_state[key] = factory()
    return st.session_state[key]


def bound(widget: Callable[..., Any], label: str, store: MutableMapping[str, Any], name: str,
          key: str, **kwargs: Any) -> Any:
    """Draw `widget` showing store[name]; every change is written back to the store at once.

    Widget keys die when a widget is not drawn; the store does not, so nothing typed is lost.
    """
    options = kwargs.get("options")
    labels = None
    if options is not None and "format_func" in kwargs:
        # Streamlit identifies a choice by its shown label: when the labels change (the language
        # was switched) the browser still holds the old label. Send the value again, relabelled.
        labels = [str(kwargs["format_func"](option)) for option in options]
    labels_key = f"{key}.labels"
    if (key not in st.session_state or st.session_state[key] != store.get(name)
            or st.session_state.get(labels_key, labels) != labels):
        st.session_state[key] = store.get(name)
    st.session_state[labels_key] = labels

    def write_back() -> None:
        value = st.session_state[key]
        if options is not None and value not in options:
            return  # an old label sent back by the browser, not one of the options
        store[name] = value

    return widget(label, key=key, on_change=write_back, **kwargs)

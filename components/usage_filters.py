"""Usage page controls: date range, backend / model / page / user filters, display currency and budget."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, MutableMapping
from datetime import date
from pathlib import Path
from typing import Any

import streamlit as st

from backends.registry import BACKENDS
from components.state import bound, durable
from core.i18n import has, t
from core.pricing import CURRENCIES, PriceTable
from core.usage_ledger import Ledger, UsageFilter
from core.usage_view import DEFAULT_PRESET, PRESETS, day_bounds, preset_range

FILTERS_KEY = "usage.filters"  # durable: preset, date range, backends, models, pages, users
SETTINGS_KEY = "usage.settings"  # durable and saved: display currency, budget (amount, currency)
SAVED_KEY = "usage.settings_saved"  # the settings as last read or written, to save only changes
SETTINGS_FILE = "usage_settings.json"


def _default_settings() -> dict[str, Any]:
    return {"currency": CURRENCIES[0], "budget": None, "budget_currency": CURRENCIES[0]}


def load_usage_settings(data_dir: Path) -> dict[str, Any]:
    """The saved currency and budget (defaults for anything missing or unreadable)."""
    settings = _default_settings()
    try:
        saved = json.loads((data_dir / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return settings
    if not isinstance(saved, dict):
        return settings
    if saved.get("currency") in CURRENCIES:
        settings["currency"] = saved["currency"]
    if saved.get("budget_currency") in CURRENCIES:
        settings["budget_currency"] = saved["budget_currency"]
    budget = saved.get("budget")
    if isinstance(budget, int | float) and math.isfinite(budget) and budget > 0:
        settings["budget"] = float(budget)
    return settings


def save_usage_settings(data_dir: Path, settings: dict[str, Any]) -> None:
    """Write the currency and budget next to the other data; a read-only disk only loses them."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / SETTINGS_FILE).write_text(json.dumps(settings, indent=2), encoding="utf-8")
    except OSError:
        pass


def usage_settings(data_dir: Path) -> dict[str, Any]:
    """This session's currency and budget, read from the data folder on first use."""
    if SETTINGS_KEY not in st.session_state:
        settings = load_usage_settings(data_dir)
        st.session_state[SAVED_KEY] = json.dumps(settings, sort_keys=True)
        st.session_state[SETTINGS_KEY] = settings
    return st.session_state[SETTINGS_KEY]


def _filters() -> dict[str, Any]:
    today = date.today()
    return durable(FILTERS_KEY, lambda: {"preset": DEFAULT_PRESET,
                                         "range": preset_range(DEFAULT_PRESET, today),
                                         "backends": [], "models": [], "pages": [], "users": []})


def _first_day(ledger: Ledger) -> date | None:
    """The day of the oldest recorded call (MIN(ts), from the index)."""
    oldest = ledger.time_range(UsageFilter())[0]
    return oldest.astimezone().date() if oldest is not None else None


def _multiselect(label: str, store: MutableMapping[str, Any], name: str, key: str, options: list[str],
                 format_func: Callable[[str], str], placeholder: str) -> None:
    """A multiselect kept in `store` (widget keys die on page change); unknown values dropped."""
    store[name] = [v for v in store.get(name, []) if v in options]
    if st.session_state.get(key) != store[name]:
        st.session_state[key] = list(store[name])

    def write_back() -> None:
        store[name] = [v for v in st.session_state.get(key, []) if v in options]

    st.multiselect(label, options, key=key, on_change=write_back, format_func=format_func,
                   placeholder=placeholder)


def backend_label(backend_id: str, lang: str) -> str:
    backend = BACKENDS.get(backend_id)
    return t(backend.label_key, lang) if backend else backend_id


def page_label(page: str, lang: str) -> str:
    return t(f"nav.{page}", lang) if has(f"nav.{page}") else page


def user_label(user: str, lang: str) -> str:
    return user or t("access.usage.user_none", lang)


def render_filters(ledger: Ledger, lang: str, only_user: str | None = None,
                   values: dict[str, list[str]] | None = None) -> UsageFilter:
    """Draw the filter bar and return the ledger filter it describes. `only_user`: the one user
    whose calls may be shown (a signed-in non-admin), with no user filter drawn; None: anyone's,
    with a user filter once the ledger has calls of signed-in users. `values`: the ledger's
    distinct_values() when the caller already has them."""
    store = _filters()
    store.setdefault("users", [])
    today = date.today()

    def pick_preset() -> None:
        store["preset"] = st.session_state.get("widget.usage.preset")
        if store["preset"] == "all":  # looked up once: the oldest row does not move
            store["range"] = preset_range("all", today, _first_day(ledger))

    if store["preset"] in PRESETS and store["preset"] != "all":
        store["range"] = preset_range(store["preset"], today)  # "today" moves on at midnight

    def typed_range() -> None:
        store["preset"] = None  # a range picked by hand is no longer a preset

    row = st.container(horizontal=True, vertical_alignment="bottom")
    with row:
        st.session_state["widget.usage.preset"] = store["preset"]
        st.segmented_control(t("usage.filter.period", lang), PRESETS, key="widget.usage.preset",
                             format_func=lambda p: t(f"usage.preset.{p}", lang), on_change=pick_preset)
        picked = _date_range(store, lang, typed_range, today)
    values = ledger.distinct_values() if values is None else values
    anything = t("usage.filter.any", lang)
    users = sorted(values.get("users", []))
    by_user = only_user is None and any(users)
    cols = st.columns(4 if by_user else 3)
    with cols[0]:
        _multiselect(t("usage.filter.backend", lang), store, "backends", "widget.usage.backends",
                     sorted(values.get("backends", [])), lambda b: backend_label(b, lang), anything)
    with cols[1]:
        _multiselect(t("usage.filter.model", lang), store, "models", "widget.usage.models",
                     sorted(values.get("models", [])), str, anything)
    with cols[2]:
        _multiselect(t("usage.filter.page", lang), store, "pages", "widget.usage.pages",
                     sorted(values.get("pages", [])), lambda p: page_label(p, lang), anything)
    if by_user:
        with cols[3]:
            _multiselect(t("access.usage.user", lang), store, "users", "widget.usage.users", users,
                         lambda u: user_label(u, lang), anything)
    chosen = (only_user,) if only_user is not None else tuple(store["users"]) if by_user else ()
    start, end = (None, None) if store["preset"] == "all" else day_bounds(*picked)
    return UsageFilter(start=start, end=end, backends=tuple(store["backends"]),
                       models=tuple(store["models"]), pages=tuple(store["pages"]), users=chosen)


def _date_range(store: dict[str, Any], lang: str, changed: Callable[[], None],
                today: date) -> tuple[date, date]:
    """The date-range picker; while only the first day is picked, that one day is the range."""
    key = "widget.usage.range"
    first, last = store["range"]
    current = st.session_state.get(key)
    half_picked = isinstance(current, tuple) and len(current) == 1 and first == last == current[0]
    if current != (first, last) and not half_picked:  # never undo a first click in the picker
        st.session_state[key] = (first, last)

    def write_back() -> None:
        value = tuple(st.session_state.get(key) or ())
        if value:
            store["range"] = (value[0], value[-1])
            changed()

    st.date_input(t("usage.filter.range", lang), key=key, max_value=today, format="YYYY-MM-DD",
                  on_change=write_back, help=t("usage.filter.range_help", lang), width=280)
    return store["range"]


def render_money_settings(settings: dict[str, Any], table: PriceTable, data_dir: Path,
                          lang: str) -> tuple[str, float | None]:
    """Display currency and the period's budget (in that currency). Returns (currency, budget)."""
    row = st.container(horizontal=True, vertical_alignment="bottom")
    with row:
        bound(st.segmented_control, t("usage.currency", lang), settings, "currency", "widget.usage.currency",
              options=list(CURRENCIES), format_func=str, required=True,
              help=t("usage.currency_help", lang, rate=f"{table.cny_per_usd:g}"))
        currency = settings["currency"] if settings["currency"] in CURRENCIES else CURRENCIES[0]
        budget = settings.get("budget")
        shown = (round(table.convert(budget, settings["budget_currency"], currency), 6)
                 if budget else None)
        key = "widget.usage.budget"
        if st.session_state.get(key) != shown:
            st.session_state[key] = shown

        def write_back() -> None:
            value = st.session_state.get(key)
            ok = isinstance(value, int | float) and math.isfinite(value) and value > 0
            settings["budget"] = float(value) if ok else None
            settings["budget_currency"] = settings["currency"]
            save_usage_settings(data_dir, settings)

        st.number_input(t("usage.budget", lang, currency=currency), value=None, key=key, min_value=0.0,
                        step=10.0, format="%.2f", on_change=write_back, width=240,
                        placeholder=t("usage.budget_none", lang), help=t("usage.budget_help", lang))
    save_if_changed(data_dir, settings)
    return currency, shown


def save_if_changed(data_dir: Path, settings: dict[str, Any]) -> None:
    """Persist the settings when they differ from what was last written (the currency switch)."""
    snapshot = json.dumps(settings, sort_keys=True)
    if st.session_state.get(SAVED_KEY) != snapshot:
        save_usage_settings(data_dir, settings)
        st.session_state[SAVED_KEY] = snapshot

"""The prompt_template editor: built-in and saved templates, live placeholder checks, save by name.

The text being edited belongs to the knowledge base's ask settings (saved in its kb.json), so a
refresh or a restart keeps it; loading another template can be undone.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.retrieval_feedback import md, show_problem
from components.state import bound
from core.errors import PlaygroundError
from core.i18n import t
from core.retrieval.template import BUILTIN, TemplateStore, check_template

UNDO_KEY = "retrieval.template_undo"  # {kb id: the text before the last load}
PROBLEM_KEY = "retrieval.template_problem"
SAVED_PREFIX = "saved:"


def _store() -> TemplateStore:
    from components.backend_picker import load_settings

    return TemplateStore(load_settings().data_dir)


def _options(saved: dict[str, str]) -> list[str]:
    return [*BUILTIN, *(SAVED_PREFIX + name for name in saved)]


def _text_of(option: str, saved: dict[str, str]) -> str | None:
    if option in BUILTIN:
        return BUILTIN[option]
    return saved.get(option.removeprefix(SAVED_PREFIX))


def _load(kb_id: str, settings: dict[str, Any], option_key: str) -> None:
    text = _text_of(st.session_state.get(option_key) or "", _store().all())
    if text is not None and text != settings.get("template"):
        st.session_state.setdefault(UNDO_KEY, {})[kb_id] = settings.get("template", "")
        settings["template"] = text


def _undo(kb_id: str, settings: dict[str, Any]) -> None:
    previous = st.session_state.get(UNDO_KEY, {}).pop(kb_id, None)
    if previous is not None:
        settings["template"] = previous


def _save(settings: dict[str, Any], name_key: str, lang: str) -> None:
    try:
        name = _store().save(st.session_state.get(name_key) or "", settings.get("template", ""))
    except PlaygroundError as err:
        st.session_state[PROBLEM_KEY] = err
        return
    except OSError as err:
        from core.retrieval.errors import retrieval_error

        st.session_state[PROBLEM_KEY] = retrieval_error("retrieval.error.disk", detail=str(err))
        return
    st.session_state.pop(PROBLEM_KEY, None)
    st.toast(t("retrieval.template.saved", lang, name=name), icon=":material/save:")


def _delete(option_key: str) -> None:
    option = st.session_state.get(option_key) or ""
    if option.startswith(SAVED_PREFIX):
        _store().delete(option.removeprefix(SAVED_PREFIX))
        st.session_state[option_key] = next(iter(BUILTIN))


def render_template_editor(kb_id: str, settings: dict[str, Any], lang: str) -> bool:
    """Draw the editor; True when the template can be sent (both placeholders, no unknown ones)."""
    saved = _store().all()
    options = _options(saved)
    option_key = "retrieval.template.choice"
    if st.session_state.get(option_key) not in options:  # first draw: the one being edited, if any
        current = settings.get("template")
        st.session_state[option_key] = next((o for o in options if _text_of(o, saved) == current), options[0])

    def label(option: str) -> str:
        if option in BUILTIN:
            return t(f"retrieval.template.builtin.{option}", lang)
        return t("retrieval.template.saved_label", lang, name=option.removeprefix(SAVED_PREFIX))

    pick, load, undo = st.columns([4, 2, 2], vertical_alignment="bottom")
    pick.selectbox(t("retrieval.template.start_from", lang), options, key=option_key, format_func=label)
    load.button(t("retrieval.template.load", lang), key="retrieval.template.load", icon=":material/input:",
                on_click=_load, args=(kb_id, settings, option_key))
    if st.session_state.get(UNDO_KEY, {}).get(kb_id) is not None:
        undo.button(t("retrieval.template.undo", lang), key="retrieval.template.undo", icon=":material/undo:",
                    on_click=_undo, args=(kb_id, settings))
    bound(st.text_area, t("retrieval.template.label", lang), settings, "template",
          f"retrieval.template.{kb_id}", height=240, help=t("retrieval.template.help", lang))
    ok = _render_check(settings.get("template", ""), lang)
    problem = st.session_state.pop(PROBLEM_KEY, None)
    if problem is not None:
        show_problem(problem, lang)
    name_col, save_col, delete_col = st.columns([4, 2, 2], vertical_alignment="bottom")
    name_key = "retrieval.template.name"
    name_col.text_input(t("retrieval.template.name", lang), key=name_key, max_chars=60,
                        placeholder=t("retrieval.template.name_placeholder", lang))
    save_col.button(t("retrieval.template.save", lang), key="retrieval.template.save", icon=":material/save:",
                    on_click=_save, args=(settings, name_key, lang), disabled=not ok)
    if st.session_state[option_key].startswith(SAVED_PREFIX):
        delete_col.button(t("retrieval.template.delete", lang), key="retrieval.template.delete",
                          icon=":material/delete:", on_click=_delete, args=(option_key,))
    return ok


def _render_check(template: str, lang: str) -> bool:
    check = check_template(template)
    if check.missing:
        names = ", ".join("{{" + n + "}}" for n in check.missing)
        st.error(t("retrieval.template.missing", lang, names=md(names)), icon=":material/error:")
    for written in check.unknown:
        hint = check.suggestions.get(written)
        key = "retrieval.template.unknown_hint" if hint else "retrieval.template.unknown"
        st.warning(t(key, lang, written=md(written), hint=md(hint or "")), icon=":material/warning:")
    if check.ok:
        st.caption(t("retrieval.template.ok", lang))
    return check.ok

"""The example editor: conversations (add, edit, delete and reorder messages) a page at a time,
with search; an example that is not well-formed is shown as its JSON, to be fixed and applied."""

from __future__ import annotations

import json

import streamlit as st

from components.finetune_state import Workspace, md, report, save
from core.finetune.dataset import ROLES, Dataset, Example
from core.finetune.wording import describe
from core.i18n import t

PAGE_SIZE = 10
SEARCH_KEY = "widget.ft.search"
PAGE_KEY = "widget.ft.page"


def _text_of(example: Example) -> str:
    return example.to_line().casefold()


def _add_example(ws: Workspace, dataset: Dataset) -> None:
    system = str(dataset.settings.get("default_system") or "")
    dataset.examples.append(Example.single_turn("", "", system))
    save(ws)
    st.session_state[SEARCH_KEY] = ""
    st.session_state[PAGE_KEY] = max(1, -(-len(dataset.examples) // PAGE_SIZE))


def _delete_example(ws: Workspace, dataset: Dataset, example_id: str) -> None:
    dataset.delete(example_id)
    if ws.focus is not None:
        ws.focus = None
    save(ws)


def _message_action(ws: Workspace, example: Example, action: str, index: int) -> None:
    if action == "up":
        example.move_message(index, -1)
    elif action == "down":
        example.move_message(index, 1)
    elif action == "delete":
        example.delete_message(index)
    elif action == "add":
        example.add_message(example.next_role())
    save(ws)


def _edit(ws: Workspace, example: Example, index: int, field: str, key: str) -> None:
    value = st.session_state.get(key)
    if field == "role":
        example.set_message(index, role=value)
    else:
        example.set_message(index, content=value)
    save(ws)


def _apply_json(ws: Workspace, example: Example, key: str) -> None:
    text = st.session_state.get(key, "")
    try:
        example.record = json.loads(text)
    except ValueError as err:
        ws.flash = ("error", "finetune.editor.bad_json", {"detail": str(err)})
        return  # the text stays in the box for the user to fix
    st.session_state.pop(key, None)
    save(ws)


def _message_row(ws: Workspace, example: Example, index: int, count: int, lang: str) -> None:
    message = example.messages[index]  # type: ignore[index]
    base = f"widget.ft.msg.{example.id}.{index}"
    role = message.get("role")
    options = list(ROLES) + ([role] if role not in ROLES else [])
    role_key, content_key = f"{base}.role", f"{base}.content"
    if st.session_state.get(role_key) != role:
        st.session_state[role_key] = role
    content = message.get("content")
    shown = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    if st.session_state.get(content_key) != shown:
        st.session_state[content_key] = shown
    left, middle, right = st.columns([2, 9, 2], vertical_alignment="top")
    left.selectbox(t("finetune.editor.role", lang), options, key=role_key, label_visibility="collapsed",
                   format_func=lambda r: t(f"role.{r}", lang) if r in ROLES else str(r),
                   on_change=_edit, args=(ws, example, index, "role", role_key))
    middle.text_area(t("finetune.editor.content", lang), key=content_key, label_visibility="collapsed",
                     height=90, on_change=_edit, args=(ws, example, index, "content", content_key),
                     placeholder=t(f"finetune.editor.placeholder_{role}" if role in ROLES
                                   else "finetune.editor.placeholder_user", lang))
    with right.container(horizontal=True, gap="small"):
        st.button("", key=f"{base}.up", icon=":material/arrow_upward:", type="tertiary",
                  help=t("finetune.editor.up", lang), disabled=index == 0,
                  on_click=_message_action, args=(ws, example, "up", index))
        st.button("", key=f"{base}.down", icon=":material/arrow_downward:", type="tertiary",
                  help=t("finetune.editor.down", lang), disabled=index == count - 1,
                  on_click=_message_action, args=(ws, example, "down", index))
        st.button("", key=f"{base}.delete", icon=":material/delete:", type="tertiary",
                  help=t("finetune.editor.delete_message", lang),
                  on_click=_message_action, args=(ws, example, "delete", index))


def render_example(ws: Workspace, dataset: Dataset, example: Example, line: int, lang: str) -> None:
    """One example in a bordered box: its line, its problems, its messages and actions."""
    problems = report(ws, dataset).by_line().get(line, [])
    with st.container(border=True, key=f"ft-example-{example.id}"):
        head = st.container(horizontal=True, vertical_alignment="center")
        head.markdown(f"**{t('finetune.line', lang, line=line)}**")
        if not problems:
            head.caption(t("finetune.editor.valid", lang))
        head.button(t("finetune.editor.delete_example", lang), key=f"ft.ex.{example.id}.delete",
                    icon=":material/delete:", type="tertiary", on_click=_delete_example,
                    args=(ws, dataset, example.id))
        for problem in problems:
            shown = st.warning if problem.severity == "warning" else st.error
            shown(md(describe(problem, lang)))
        if example.editable():
            count = len(example.messages or [])
            for index in range(count):
                _message_row(ws, example, index, count, lang)
            st.button(t("finetune.editor.add_message", lang, role=t(f"role.{example.next_role()}", lang)),
                      key=f"ft.ex.{example.id}.add", icon=":material/add:", type="tertiary",
                      on_click=_message_action, args=(ws, example, "add", -1))
        else:
            key = f"widget.ft.raw.{example.id}"
            if key not in st.session_state:
                st.session_state[key] = example.to_line()
            st.caption(t("finetune.editor.raw_help", lang))
            st.text_area(t("finetune.editor.raw", lang), key=key, height=120)
            st.button(t("finetune.editor.apply", lang), key=f"ft.ex.{example.id}.apply",
                      on_click=_apply_json, args=(ws, example, key))


def _show_all(ws: Workspace) -> None:
    ws.focus = None


def render_examples(ws: Workspace, dataset: Dataset, lang: str) -> None:
    """The conversations view: search, pages of examples, add an example; or one opened line."""
    if ws.focus is not None and 1 <= ws.focus <= len(dataset.examples):
        st.button(t("finetune.editor.show_all", lang), key="ft.show_all", icon=":material/arrow_back:",
                  on_click=_show_all, args=(ws,))
        render_example(ws, dataset, dataset.examples[ws.focus - 1], ws.focus, lang)
        return
    ws.focus = None
    top = st.container(horizontal=True, vertical_alignment="bottom")
    query = top.text_input(t("finetune.editor.search", lang), key=SEARCH_KEY,
                           placeholder=t("finetune.editor.search_placeholder", lang)).strip().casefold()
    top.button(t("finetune.editor.add_example", lang), key="ft.add_example", icon=":material/add:",
               on_click=_add_example, args=(ws, dataset))
    lines = [n for n, e in enumerate(dataset.examples, start=1) if not query or query in _text_of(e)]
    if not dataset.examples:
        st.caption(t("finetune.editor.empty", lang))
        return
    if not lines:
        st.caption(t("finetune.editor.no_match", lang))
        return
    pages = max(1, -(-len(lines) // PAGE_SIZE))
    if not 1 <= int(st.session_state.get(PAGE_KEY) or 1) <= pages:
        st.session_state[PAGE_KEY] = 1
    if pages > 1:
        st.number_input(t("finetune.editor.page", lang, pages=pages), min_value=1, max_value=pages,
                        key=PAGE_KEY, width=200)
    page = int(st.session_state.get(PAGE_KEY) or 1)
    shown = lines[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    st.caption(t("finetune.editor.showing", lang, first=shown[0], last=shown[-1], count=len(lines)))
    for line in shown:
        render_example(ws, dataset, dataset.examples[line - 1], line, lang)

"""The chat page's "Add to dataset": save the current conversation as one fine-tune example."""

from __future__ import annotations

import streamlit as st

from components.backend_picker import load_settings
from components.finetune_state import md
from components.identity import owner_id
from core.error_text import explain
from core.errors import ErrorKind, PlaygroundError
from core.finetune.dataset import DatasetStore, Example
from core.finetune.validation import validate_records
from core.finetune.wording import what
from core.i18n import t
from core.messages import Conversation

NEW = "__new__"
PICK_KEY = "widget.chat.ft_dataset"
NAME_KEY = "widget.chat.ft_name"
FLASH_KEY = "chat.ft_flash"


def _add(conv: Conversation, lang: str) -> None:
    store = DatasetStore(load_settings().data_dir, viewer=owner_id())
    choice = st.session_state.get(PICK_KEY)
    example = Example.from_messages(conv.to_api())
    try:
        if choice == NEW or not choice:
            dataset = store.create(st.session_state.get(NAME_KEY) or "", [example])
        else:
            dataset = store.load(choice)
            if dataset is None:
                raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "finetune.dataset.missing"})
            dataset.examples.append(example)
            store.save(dataset)
    except PlaygroundError as err:
        st.session_state[FLASH_KEY] = ("error", explain(err, lang).fix)
        return
    except OSError as err:
        st.session_state[FLASH_KEY] = ("error", t("finetune.save_failed", lang, reason=str(err)))
        return
    st.session_state[PICK_KEY] = dataset.id
    line = len(dataset.examples)
    problems = validate_records([example.record]).problems
    text = t("finetune.chat.added", lang, name=md(dataset.name), line=line)
    if problems:
        text += " " + t("finetune.chat.added_with_problem", lang, problem=md(what(problems[0], lang)))
    st.session_state[FLASH_KEY] = ("warning" if problems else "success", text)


def render_add_to_dataset(conv: Conversation, lang: str) -> None:
    """A popover: pick a dataset (or name a new one) and add the conversation to it."""
    flash = st.session_state.pop(FLASH_KEY, None)
    with st.popover(t("finetune.chat.add", lang), icon=":material/playlist_add:", disabled=not conv.messages,
                    help=t("finetune.chat.add_help", lang)):
        datasets = DatasetStore(load_settings().data_dir, viewer=owner_id()).list_datasets()
        names = {d.id: d.name for d in datasets}
        options = [*names, NEW]
        if st.session_state.get(PICK_KEY) not in options:
            st.session_state[PICK_KEY] = options[0]
        choice = st.selectbox(t("finetune.chat.dataset", lang), options, key=PICK_KEY,
                              format_func=lambda i: t("finetune.chat.new", lang) if i == NEW else names[i])
        if choice == NEW:
            st.text_input(t("finetune.dataset.name", lang), key=NAME_KEY, max_chars=80,
                          placeholder=t("finetune.dataset.name_placeholder", lang))
        st.button(t("finetune.chat.add_button", lang), key="chat.ft_add", type="primary",
                  on_click=_add, args=(conv, lang))
    if flash is not None:  # a toast: the button sits in the chat's row of actions
        kind, text = flash
        st.toast(text, icon={"warning": ":material/warning:", "error": ":material/error:"}.get(
            kind, ":material/check_circle:"))

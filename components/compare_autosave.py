"""The compare page's setup saved on disk and tied to the page URL (?cmp=<id>), so a refresh or a
restart keeps the targets, the shared parameters and the conversation (never a key).

The setup is kept in the preset format (core/compare/presets.py) under `<data_dir>/compare/`,
written atomically, and only once the user has changed something.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from components.backend_picker import load_settings
from components.compare_state import CompareState, TargetChoice
from components.identity import current_user_id
from components.presets_panel import BACKEND_ENDPOINTS, apply_to_compare, compare_snapshot
from core.atomic_file import write_text_atomic
from core.conversation_store import USERS_DIR, new_conversation_id, owner_folder, valid_id
from core.errors import PlaygroundError

URL_PARAM = "cmp"
ID_KEY = "compare.setup_id"
SAVED_KEY = "compare.setup_saved"  # the JSON on disk (or the untouched start), to skip rewriting it
SETUP_NAME = "compare setup"


def _path(setup_id: str) -> Path:
    """A signed-in user's setups in a folder of their own (as their conversations): another user's
    ?cmp=<id> finds nothing."""
    root = load_settings().data_dir / "compare"
    owner = current_user_id()
    return (root / USERS_DIR / owner_folder(owner) if owner else root) / f"{setup_id}.json"


def restore_compare(state: CompareState) -> None:
    """On the page's first run in a session, take back the setup named in the URL."""
    if ID_KEY not in st.session_state:
        setup_id = st.query_params.get(URL_PARAM)
        if valid_id(setup_id) and _path(setup_id).exists():
            try:
                from core.compare.presets import import_json

                text = _path(setup_id).read_text(encoding="utf-8")
                apply_to_compare(state)(import_json(text, BACKEND_ENDPOINTS))
                st.session_state[SAVED_KEY] = text
            except (OSError, PlaygroundError):
                setup_id = None  # unreadable: start afresh rather than fail the page
        st.session_state[ID_KEY] = setup_id if valid_id(setup_id) else new_conversation_id()
    if st.query_params.get(URL_PARAM) != st.session_state[ID_KEY]:
        st.query_params[URL_PARAM] = st.session_state[ID_KEY]


def autosave_compare(state: CompareState, choices: list[TargetChoice]) -> None:
    """Write the setup if it changed since it was last written (or since the page opened)."""
    try:
        text = compare_snapshot(state, choices)(SETUP_NAME).to_json()
    except PlaygroundError:
        return
    saved = st.session_state.get(SAVED_KEY)
    if saved is None:  # the untouched start of a new setup: nothing worth a file yet
        st.session_state[SAVED_KEY] = text
        return
    if text == saved:
        return
    try:
        write_text_atomic(_path(st.session_state[ID_KEY]), text)
        st.session_state[SAVED_KEY] = text
    except OSError:  # a disk that refuses: the page keeps working, and tries again on the next change
        pass

"""The table view: single-turn examples (system / user / assistant) in an editable table, with search.

Edits, added and deleted rows are applied to the dataset in the run after the table reports them,
by the example each row showed (rows are matched to examples by id, so a search filter is safe).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from components.finetune_state import Workspace, save
from core.finetune.dataset import Dataset, Example
from core.i18n import t

SEARCH_KEY = "widget.ft.table_search"
EDITOR_KEY = "widget.ft.table"
STATE_KEY = "finetune.table"  # {"ids": example ids of the rows shown, "version": editor generation}
COLUMNS = ("line", "system", "user", "assistant")


def table_rows(dataset: Dataset, query: str = "") -> tuple[list[str], list[dict[str, Any]]]:
    """(example ids, rows) of the single-turn examples whose text contains `query`."""
    query = query.strip().casefold()
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    for line, example in enumerate(dataset.examples, start=1):
        parts = example.single_turn_parts()
        if parts is None:
            continue
        if query and not any(query in p.casefold() for p in parts):
            continue
        ids.append(example.id)
        rows.append({"line": line, "system": parts[0], "user": parts[1], "assistant": parts[2]})
    return ids, rows


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def apply_table_edits(dataset: Dataset, ids: list[str], edits: Any, default_system: str = "") -> bool:
    """Apply a data editor's {edited_rows, added_rows, deleted_rows} to the dataset; True if changed."""
    if not isinstance(edits, Mapping):
        return False
    changed = False
    for position, change in (edits.get("edited_rows") or {}).items():
        try:
            example = dataset.find(ids[int(position)])
        except (ValueError, IndexError, TypeError):
            continue
        parts = example.single_turn_parts() if example else None
        if example is None or parts is None or not isinstance(change, Mapping):
            continue
        system, user, assistant = parts
        system = _text(change["system"]) if "system" in change else system
        user = _text(change["user"]) if "user" in change else user
        assistant = _text(change["assistant"]) if "assistant" in change else assistant
        example.record = Example.single_turn(user, assistant, system).record
        changed = True
    for position in sorted({int(p) for p in edits.get("deleted_rows") or []}, reverse=True):
        if 0 <= position < len(ids) and dataset.find(ids[position]) is not None:
            dataset.delete(ids[position])
            changed = True
    for added in edits.get("added_rows") or []:
        if not isinstance(added, Mapping):
            continue
        system = _text(added.get("system")) or default_system
        dataset.examples.append(Example.single_turn(_text(added.get("user")), _text(added.get("assistant")),
                                                    system))
        changed = True
    return changed


def _has_edits(edits: Any) -> bool:
    return isinstance(edits, Mapping) and any(edits.get(k) for k in ("edited_rows", "added_rows",
                                                                      "deleted_rows"))


def render_table(ws: Workspace, dataset: Dataset, lang: str) -> None:
    """The table; the edits it reported in the last run are applied first, then it starts afresh."""
    state = st.session_state.setdefault(STATE_KEY, {"ids": [], "version": 0, "key": None})
    edits = st.session_state.get(state["key"]) if state["key"] else None
    if _has_edits(edits):
        if apply_table_edits(dataset, state["ids"], edits, str(dataset.settings.get("default_system") or "")):
            save(ws)
        state["version"] += 1  # the edits are in the dataset now: a fresh table shows them
    query = st.text_input(t("finetune.editor.search", lang), key=SEARCH_KEY,
                          placeholder=t("finetune.editor.search_placeholder", lang))
    ids, rows = table_rows(dataset, query)
    key = f"{EDITOR_KEY}.v{state['version']}.{hash(tuple(ids))}"  # other rows: another table
    state["ids"], state["key"] = ids, key
    others = sum(1 for e in dataset.examples if e.single_turn_parts() is None)
    st.caption(t("finetune.table.help", lang))
    if others:
        st.caption(t("finetune.table.others", lang, count=others))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    cc = st.column_config
    st.data_editor(frame, key=key, num_rows="dynamic", hide_index=True, width="stretch", disabled=["line"],
                   column_config={
                       "line": cc.NumberColumn(t("finetune.table.line", lang), width="small"),
                       "system": cc.TextColumn(t("role.system", lang), width="medium"),
                       "user": cc.TextColumn(t("role.user", lang), width="large"),
                       "assistant": cc.TextColumn(t("role.assistant", lang), width="large")})

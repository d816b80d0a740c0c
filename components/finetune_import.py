"""Import into a dataset: JSONL / JSON (messages, Alpaca, ShareGPT, detected), CSV and XLSX with a
column mapping step. The file's problems are listed by line; the valid part can always be
imported, and importing only ever adds examples: nothing already in a dataset is lost."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import pandas as pd
import streamlit as st

from components.finetune_state import (
    Workspace,
    attempt,
    md,
    open_dataset,
    save,
    show_problem,
    store,
)
from core.errors import PlaygroundError
from core.finetune import formats
from core.finetune.dataset import Dataset
from core.finetune.formats import ImportResult
from core.finetune.tables import Table, TableMapping, read_csv, read_xlsx, suggest_mapping, table_import
from core.finetune.validation import validate_records
from core.finetune.wording import what, where
from core.i18n import t

STATE_KEY = "finetune.import"
UPLOAD_KEY = "widget.ft.upload"
TARGET_KEY = "widget.ft.import_target"
NAME_KEY = "widget.ft.import_name"
SYSTEM_KEY = "widget.ft.default_system"
NONE = "__none__"
PREVIEW = 3


def _state() -> dict[str, Any]:
    return st.session_state.setdefault(STATE_KEY, {"version": 0, "file": None, "parsed": None})


def _parse(uploaded: Any) -> ImportResult | Table | PlaygroundError:
    """Read the upload once per file: the examples of a JSON file, a table, or why not."""
    state = _state()
    stamp = (uploaded.file_id, uploaded.name, uploaded.size)
    if state["file"] == stamp and state["parsed"] is not None:
        return state["parsed"]  # type: ignore[no-any-return]
    try:
        formats.check_size(uploaded.size, formats.MAX_IMPORT_BYTES)
        kind = formats.file_kind(uploaded.name)
        data = uploaded.getvalue()
        if kind == "json":
            parsed: Any = formats.import_json_bytes(data, formats.MAX_IMPORT_BYTES)
        elif kind == "xlsx":
            parsed = read_xlsx(data, formats.MAX_IMPORT_BYTES)
        else:
            parsed = read_csv(data, formats.MAX_IMPORT_BYTES)
    except PlaygroundError as err:
        parsed = err
    state["file"], state["parsed"] = stamp, parsed
    return parsed  # type: ignore[no-any-return]


def _mapping(table: Table, lang: str) -> TableMapping:
    """The mapping step: which column is the question, the answer, the system prompt."""
    guess = suggest_mapping(table.columns)
    options = [NONE, *table.columns]
    st.markdown(t("finetune.import.mapping_title", lang))
    st.caption(t("finetune.import.columns", lang, columns=md(", ".join(table.columns))))
    cols = st.columns(3)
    chosen: dict[str, str | None] = {}
    for col, role, default in zip(cols, ("question", "answer", "system"),
                                  (guess.question, guess.answer, guess.system), strict=True):
        key = f"widget.ft.map.{role}"
        if st.session_state.get(key) not in options:
            st.session_state[key] = default or NONE
        value = col.selectbox(t(f"finetune.import.map_{role}", lang), options, key=key,
                              format_func=lambda c: t("finetune.import.no_column_choice", lang)
                              if c == NONE else c)
        chosen[role] = None if value == NONE else value
    default_system = st.text_area(t("finetune.import.default_system", lang), key=SYSTEM_KEY, height=70,
                                  help=t("finetune.import.default_system_help", lang))
    preview = pd.DataFrame(table.rows[:5], columns=table.columns)
    st.dataframe(preview, hide_index=True, width="stretch")
    return TableMapping(chosen["question"], chosen["answer"], chosen["system"], default_system)


def _problems_table(result: ImportResult, lang: str) -> None:
    rows = [{"where": where(p, lang, result.numbering), "problem": what(p, lang)} for p in result.problems]
    st.dataframe(pd.DataFrame(rows, columns=["where", "problem"]), hide_index=True, width="stretch",
                 column_config={"where": t("finetune.check.col_where", lang),
                                "problem": t("finetune.check.col_problem", lang)})


def _preview(result: ImportResult, lang: str) -> None:
    if result.converted:
        st.info(t("finetune.import.converted", lang, encoding=result.encoding), icon=":material/translate:")
    st.markdown(t("finetune.import.found", lang, count=len(result.examples),
                  format=t(f"finetune.format.{result.format}", lang)))
    left_out = [p for p in result.problems if p.severity == "error"]
    if left_out:
        st.warning(t("finetune.import.left_out", lang, count=len(left_out)), icon=":material/warning:")
    if result.problems:
        _problems_table(result, lang)
    if result.examples:
        report = validate_records([e.record for e in result.examples])
        if report.error_lines:
            st.caption(t("finetune.import.to_fix", lang, count=len(report.error_lines)))
        with st.expander(t("finetune.import.preview", lang, count=min(PREVIEW, len(result.examples)))):
            for example in result.examples[:PREVIEW]:
                st.code(example.to_line(), language="json", wrap_lines=True)


def _do_import(ws: Workspace, result: ImportResult, filename: str, lang: str) -> None:
    target = st.session_state.get(TARGET_KEY, "current")
    examples = result.examples
    if target == "new" or ws.dataset is None:
        name = st.session_state.get(NAME_KEY) or PurePath(filename).stem
        dataset = attempt(ws, lambda: store().create(name, examples), "finetune.dataset.not_created", lang)
        if dataset is None:
            return
        open_dataset(ws, dataset.id)
    else:
        dataset = ws.dataset
        dataset.examples.extend(examples)
        save(ws)
    default_system = str(st.session_state.get(SYSTEM_KEY) or "").strip()
    if result.format == "table" and default_system:  # rows added later in the table get it too
        dataset.settings["default_system"] = default_system
        save(ws, examples_changed=False)
    _state()["version"] += 1  # a fresh uploader: the file is done
    _state()["parsed"] = None
    ws.flash = ("success", "finetune.import.done", {"count": len(examples), "name": dataset.name,
                                                   "left_out": len([p for p in result.problems
                                                                    if p.severity == "error"])})


def render_import(ws: Workspace, dataset: Dataset | None, lang: str) -> None:
    state = _state()
    st.caption(t("finetune.import.help", lang))
    limit_mb = formats.MAX_IMPORT_BYTES // formats.MB
    uploaded = st.file_uploader(t("finetune.import.upload", lang, limit=limit_mb),
                                type=["jsonl", "json", "ndjson", "csv", "tsv", "txt", "xlsx", "xlsm"],
                                key=f"{UPLOAD_KEY}.{state['version']}", max_upload_size=max(1, limit_mb))
    if uploaded is None:
        return
    parsed = _parse(uploaded)
    if isinstance(parsed, PlaygroundError):
        show_problem(parsed, lang)
        return
    if isinstance(parsed, Table):
        if parsed.converted:
            st.info(t("finetune.import.converted", lang, encoding=parsed.encoding),
                    icon=":material/translate:")
        mapping = _mapping(parsed, lang)
        try:
            result = table_import(parsed, mapping)
        except PlaygroundError as err:
            show_problem(err, lang)
            return
    else:
        result = parsed
    _preview(result, lang)
    if not result.examples:
        return
    choices = ["current", "new"] if dataset is not None else ["new"]
    row = st.container(horizontal=True, vertical_alignment="bottom")
    with row:
        target = st.radio(t("finetune.import.target", lang), choices, key=TARGET_KEY, horizontal=True,
                          format_func=lambda c: t(f"finetune.import.target_{c}", lang,
                                                  name=dataset.name if dataset else ""))
        if target == "new" or dataset is None:
            if not st.session_state.get(NAME_KEY):
                st.session_state[NAME_KEY] = PurePath(uploaded.name).stem[:80]
            st.text_input(t("finetune.dataset.name", lang), key=NAME_KEY, max_chars=80)
        st.button(t("finetune.import.button", lang, count=len(result.examples)), key="ft.import",
                  type="primary", icon=":material/upload:", on_click=_do_import,
                  args=(ws, result, uploaded.name, lang))

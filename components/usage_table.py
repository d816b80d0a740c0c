"""Usage page tables: the recorded calls with CSV export, and the "What would this have cost?" table."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from core.i18n import has, t
from core.usage_ledger import Ledger, UsageFilter
from core.usage_view import saving_text

SHOWN_ROWS = 1_000  # rows drawn in the page's table, newest first
CSV_ROWS = 50_000  # rows in one CSV export
HIDDEN = ("id",)  # fields the page's table leaves out (the CSV keeps them)
# The page's table starts with what people look for; the CSV keeps the ledger's field order.
FIRST = ("ts", "model", "outcome", "error_kind", "error_code", "prompt_tokens", "completion_tokens",
         "total_tokens", "cost", "currency", "latency_s", "ttft_s", "backend", "endpoint", "page")


def row_dict(row: Any) -> dict[str, Any]:
    """A ledger row as a plain dict (a dataclass, a mapping or an object with attributes)."""
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return dataclasses.asdict(row)
    if isinstance(row, Mapping):
        return dict(row)
    return dict(vars(row))


def _cell(value: Any) -> Any:
    """Times in the server's local time without a zone (as a spreadsheet shows them), params as JSON."""
    if isinstance(value, datetime):
        return (value.astimezone() if value.tzinfo else value).replace(tzinfo=None, microsecond=0)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return value


def rows_frame(rows: Sequence[Any], lang: str | None = None) -> pd.DataFrame:
    """Rows as a table; with `lang` (for the page), readable column names and no database id."""
    records = [{k: _cell(v) for k, v in row_dict(r).items()} for r in rows]
    frame = pd.DataFrame.from_records(records)
    if lang is not None and not frame.empty:
        frame = frame.drop(columns=[c for c in HIDDEN if c in frame.columns])
        frame = frame[[c for c in FIRST if c in frame.columns] + [c for c in frame.columns if c not in FIRST]]
        frame["outcome"] = [t(f"usage.outcome.{o}", lang) if has(f"usage.outcome.{o}") else o
                            for o in frame["outcome"]]
        frame["error_kind"] = [t(f"error.{k}.title", lang) if k and has(f"error.{k}.title") else k
                               for k in frame["error_kind"]]
        frame = frame.rename(columns={c: t(f"usage.col.{c}", lang) for c in frame.columns
                                      if has(f"usage.col.{c}")})
    return frame


def csv_bytes(rows: Sequence[Any]) -> bytes:
    """The rows as UTF-8 CSV with a byte-order mark (Excel then reads Chinese text correctly)."""
    return rows_frame(rows).to_csv(index=False).encode("utf-8-sig")


def render_calls(ledger: Ledger, flt: UsageFilter, total: int, lang: str) -> None:
    """The filtered calls, newest first, and a CSV download of them (made only when clicked)."""
    shown = ledger.rows(flt, limit=SHOWN_ROWS, offset=0)
    if total > len(shown):
        st.caption(t("usage.table.newest", lang, shown=f"{len(shown):,}", total=f"{total:,}"))
    st.dataframe(rows_frame(shown, lang), hide_index=True)

    def export() -> bytes:  # runs in its own thread when the button is clicked
        return csv_bytes(ledger.rows(flt, limit=CSV_ROWS, offset=0))

    st.download_button(t("usage.table.csv", lang, count=f"{min(total, CSV_ROWS):,}"), export,
                       file_name=f"usage-{datetime.now():%Y%m%d-%H%M}.csv", mime="text/csv",
                       key="usage.csv", icon=":material/download:", on_click="ignore")
    if total > CSV_ROWS:
        st.caption(t("usage.table.csv_limit", lang, limit=f"{CSV_ROWS:,}", total=f"{total:,}"))


def repricing_frame(rows: Sequence[Mapping[str, Any]], currency: str, lang: str) -> pd.DataFrame:
    """Model, cost and saving against what was actually spent, for the re-pricing table."""
    model_col = t("usage.reprice.col_model", lang)
    cost_col = t("usage.reprice.col_cost", lang, currency=currency)
    saving_col = t("usage.reprice.col_saving", lang)
    records = []
    for r in rows:
        name = t("usage.reprice.actual", lang) if r["model"] == "actual" else str(r["model"])
        cost = None if r.get("cost") is None else round(float(r["cost"]), 6)
        records.append({model_col: name, cost_col: cost, saving_col: saving_text(r.get("saving_pct"), lang)})
    return pd.DataFrame.from_records(records, columns=[model_col, cost_col, saving_col])


def render_repricing_table(rows: Sequence[Mapping[str, Any]], currency: str, lang: str) -> None:
    frame = repricing_frame(rows, currency, lang)
    cost_col = t("usage.reprice.col_cost", lang, currency=currency)
    st.dataframe(frame, hide_index=True,
                 column_config={cost_col: st.column_config.NumberColumn(format="%.4f")})
    unknown = [str(r["model"]) for r in rows if r.get("cost") is None]
    unknown += [m for r in rows if r["model"] == "actual" for m in r.get("unpriced") or []]
    if unknown:
        st.caption(t("usage.reprice.unpriced", lang, models=", ".join(unknown)))

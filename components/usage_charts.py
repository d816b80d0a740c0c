"""Plotly figures for the Usage & cost page: pure functions from query results to go.Figure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go

from core.i18n import has, t
from core.usage_view import histogram_series, saving_text

OK_COLOUR = "#2e7d32"
ERROR_COLOUR = "#c62828"
OTHER_COLOUR = "#f9a825"
ACTUAL_COLOUR = "#546e7a"
TARGET_COLOUR = "#1565c0"


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str, **extra: Any) -> go.Figure:
    fig.update_layout(title={"text": title}, xaxis_title=x_title, yaxis_title=y_title,
                      legend_title_text="", margin={"t": 48, "b": 8, "l": 8, "r": 8}, **extra)
    return fig


def _models(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    return sorted({str(r["model"]) for r in rows})


def cost_over_time(rows: list[Mapping[str, Any]], currency: str, lang: str,
                   bucket: str = "day") -> go.Figure:
    """Cost per period, one stacked bar segment per model (rows from usage_view.cost_by_period)."""
    fig = go.Figure()
    for model in _models(rows):
        mine = [r for r in rows if r["model"] == model]
        fig.add_trace(go.Bar(name=model, x=[r["period"] for r in mine],
                             y=[round(float(r["cost"]), 6) for r in mine],
                             customdata=[int(r.get("calls") or 0) for r in mine],
                             hovertemplate="%{x}<br>%{y:.4f} " + currency + "<br>"
                             + t("usage.chart.calls_hover", lang) + "<extra>" + model + "</extra>"))
    return _layout(fig, t("usage.chart.cost_title", lang, currency=currency),
                   t(f"usage.chart.period_{bucket}", lang),
                   t("usage.chart.cost_axis", lang, currency=currency),
                   barmode="stack")


def tokens_by_model(rows: list[Mapping[str, Any]], lang: str) -> go.Figure:
    """Prompt and completion tokens per model, stacked."""
    ordered = sorted(rows, key=lambda r: -int(r.get("total_tokens") or 0))
    models = [str(r["model"]) for r in ordered]
    fig = go.Figure()
    for field, key in (("prompt_tokens", "usage.chart.prompt"),
                       ("completion_tokens", "usage.chart.completion")):
        fig.add_trace(go.Bar(name=t(key, lang), x=models,
                             y=[int(r.get(field) or 0) for r in ordered]))
    return _layout(fig, t("usage.chart.tokens_title", lang), t("usage.chart.model", lang),
                   t("usage.chart.tokens_axis", lang), barmode="stack")


def latency_histogram(rows: list[Mapping[str, Any]], lang: str) -> go.Figure:
    """How many calls took how long, one bar per model in each latency bin (rows: model, bin,
    count). Bins widen with the time (0.1 s steps near a second, minutes at the top), so a fast
    cloud model and a slow local one both show their shape."""
    labels, counts = histogram_series(rows)
    fig = go.Figure()
    for model, values in counts.items():
        fig.add_trace(go.Bar(name=model, x=labels, y=values,
                             hovertemplate="%{x}: %{y}<extra>" + model + "</extra>"))
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    return _layout(fig, t("usage.chart.latency_title", lang), t("usage.chart.latency_axis", lang),
                   t("usage.chart.calls_axis", lang), barmode="group")


def outcome_label(outcome: str, error_kind: str | None, lang: str) -> str:
    """A call's outcome in words: "Success", or the error kind's title ("No balance or quota left")."""
    if error_kind and has(f"error.{error_kind}.title"):
        return t(f"error.{error_kind}.title", lang)
    if has(f"usage.outcome.{outcome}"):
        return t(f"usage.outcome.{outcome}", lang)
    return error_kind or outcome


def outcomes(rows: list[Mapping[str, Any]], lang: str) -> go.Figure:
    """Calls by outcome: successes and each kind of error, one bar each."""
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        outcome = str(r.get("outcome") or "")
        label = outcome_label(outcome, r.get("error_kind"), lang)
        counts[(outcome, label)] = counts.get((outcome, label), 0) + int(r.get("count") or 0)
    ordered = sorted(counts.items(), key=lambda item: (item[0][0] != "ok", -item[1]))
    colours = [OK_COLOUR if o == "ok" else ERROR_COLOUR if o == "error" else OTHER_COLOUR
               for (o, _), _ in ordered]
    fig = go.Figure(go.Bar(x=[label for (_, label), _ in ordered], y=[n for _, n in ordered],
                           marker={"color": colours}, name=t("usage.chart.calls_axis", lang)))
    return _layout(fig, t("usage.chart.outcomes_title", lang), "", t("usage.chart.calls_axis", lang),
                   showlegend=False)


def repricing(rows: list[Mapping[str, Any]], currency: str, lang: str) -> go.Figure:
    """What the filtered usage cost, and what it would have cost on each chosen model."""
    priced = [r for r in rows if r.get("cost") is not None]
    names = [t("usage.reprice.actual", lang) if r["model"] == "actual" else str(r["model"])
             for r in priced]
    colours = [ACTUAL_COLOUR if r["model"] == "actual" else TARGET_COLOUR for r in priced]
    text = ["" if r["model"] == "actual" else saving_text(r.get("saving_pct"), lang, 0) for r in priced]
    fig = go.Figure(go.Bar(x=names, y=[round(float(r["cost"]), 6) for r in priced], text=text,
                           marker={"color": colours}, textposition="outside",
                           name=t("usage.chart.cost_axis", lang, currency=currency)))
    return _layout(fig, t("usage.reprice.chart_title", lang, currency=currency), "",
                   t("usage.chart.cost_axis", lang, currency=currency), showlegend=False)

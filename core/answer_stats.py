"""The line under each answer: model, time to first token, speed, tokens, and how it ended."""

from __future__ import annotations

from typing import Any

from core.i18n import t


def stats_line(stats: dict[str, Any] | None, lang: str) -> str:
    """One caption such as 'glm-4-flash · first token 0.42 s · 35 tok/s · 12 + 48 tokens'."""
    if not stats:
        return ""
    parts = [str(stats.get("model") or "")]
    if stats.get("ttft_s") is not None and stats.get("streamed", True):
        parts.append(t("stats.ttft", lang, seconds=stats["ttft_s"]))
    if stats.get("latency_s") is not None:
        parts.append(t("stats.total", lang, seconds=stats["latency_s"]))
    if stats.get("tokens_per_s"):
        parts.append(t("stats.speed", lang, rate=stats["tokens_per_s"]))
    usage = stats.get("usage")
    if usage and usage.get("prompt_tokens") is not None:
        parts.append(t("stats.tokens", lang, prompt=usage["prompt_tokens"],
                       completion=usage.get("completion_tokens") or 0))
    elif stats.get("outcome") == "ok":  # a stopped or cut answer never gets its usage
        parts.append(t("stats.no_usage", lang))
    if not stats.get("streamed", True):
        parts.append(t("stats.not_streamed", lang))
    if stats.get("edited"):
        parts.append(t("stats.edited", lang))
    outcome = stats.get("outcome")
    if outcome == "stopped":
        parts.append(t("stats.stopped", lang))
    elif outcome == "error":
        parts.append(t("stats.cut", lang))
    elif stats.get("finish_reason") == "length":
        parts.append(t("stats.length", lang))
    return " · ".join(p for p in parts if p)

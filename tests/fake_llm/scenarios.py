"""Fake LLM scenarios: selection markers, deterministic replies and the SSE step plan."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .protocol import (
    DONE_SSE,
    MALFORMED_SSE,
    SSE_ERROR_BODY,
    ZHIPU_ERRORS,
    chunk_obj,
    finish_reason_for,
    sse,
    usage_chunk,
)

# Non-error scenarios and their default options (seconds / chunk counts).
BEHAVIOURS: dict[str, dict[str, Any]] = {
    "ok": {},
    "slow_first_token": {"delay": 3.0},  # wait before the first chunk
    "timeout": {"delay": 30.0},  # send nothing at all for `delay` seconds
    "drop_mid_stream": {"after": 3},  # `after` chunks, then close the socket
    "malformed_sse": {"after": 2},  # `after` chunks, `data: {not json`, the rest
    "sse_error": {"after": 2},  # `after` chunks, then `data: {"error": ...}`, end
    "content_filter": {"after": 2},  # `after` chunks, finish sensitive/content_filter
}
MID_STREAM_FAILURES = frozenset({"drop_mid_stream", "malformed_sse", "sse_error"})
SCENARIO_NAMES: frozenset[str] = frozenset(BEHAVIOURS) | frozenset(ZHIPU_ERRORS)

_MARKER_RE = re.compile(r"\[\[(\w+):([^\]]*)\]\]")
_STRIP_RE = re.compile(r"[ \t]*\[\[\w+:[^\]]*\]\]")
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
_CHUNK_RE = re.compile(rf"[{_CJK}]\s*|[^\s{_CJK}]+\s*|\s+")

Step = tuple[
    str, Any
]  # ("wait", seconds) | ("data", bytes) | ("abort", None) | ("end", None)


@dataclass
class Scenario:
    """A scenario name plus options (BEHAVIOURS defaults merged with the given ones)."""

    name: str = "ok"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in SCENARIO_NAMES:
            known = ", ".join(sorted(SCENARIO_NAMES))
            raise ValueError(f"unknown fake-llm scenario {self.name!r}; known: {known}")
        self.options = {**BEHAVIOURS.get(self.name, {}), **self.options}

    @property
    def is_error(self) -> bool:
        """True for scenarios answered with an HTTP error status."""
        return self.name in ZHIPU_ERRORS


def _coerce(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def content_text(content: Any) -> str:
    """Text of a message `content` (a string, or a list of OpenAI-style parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """Text of the last `role: user` message ("" if none)."""
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return content_text(msg.get("content"))
    return ""


def parse_markers(text: str) -> tuple[Scenario | None, int | None, str]:
    """(`[[scenario:NAME k=v ...]]`, N of `[[tokens:N]]`, text with markers stripped)."""
    scenario: Scenario | None = None
    tokens: int | None = None
    for kind, body in _MARKER_RE.findall(text):
        if kind == "scenario":
            name, *opts = body.split() or ["ok"]
            pairs = (o.partition("=") for o in opts)
            scenario = Scenario(name, {k: _coerce(v) for k, _, v in pairs})
        elif kind == "tokens":
            tokens = int(body.strip())
    return scenario, tokens, _STRIP_RE.sub("", text).strip()


def split_chunks(text: str) -> list[str]:
    """Word-ish chunks: each word plus its trailing whitespace; CJK one char per chunk."""
    return _CHUNK_RE.findall(text)


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Deterministic prompt tokens: total characters of all message contents // 2 + 1."""
    return sum(len(content_text(m.get("content"))) for m in messages) // 2 + 1


@dataclass
class Reply:
    """A computed reply: the content chunks to emit and why generation stopped."""

    chunks: list[str]
    finish_reason: str  # "stop" | "length" | "content_filter" (generic)
    prompt_tokens: int

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def usage(self) -> dict[str, int]:
        """Usage dict; completion_tokens = number of content chunks."""
        done = len(self.chunks)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": done,
            "total_tokens": self.prompt_tokens + done,
        }


def _cut_at_stop(chunks: list[str], stops: list[str]) -> tuple[list[str], bool]:
    text = "".join(chunks)
    hits = [text.find(s) for s in stops if s and s in text]
    if not hits:
        return chunks, False
    limit, out, pos = min(hits), [], 0
    for chunk in chunks:
        if pos + len(chunk) <= limit:
            out.append(chunk)
        elif pos < limit:
            out.append(chunk[: limit - pos])
        pos += len(chunk)
    return out, True


def build_reply(
    body: dict[str, Any], scenario: Scenario, tokens: int | None, text: str
) -> Reply:
    """The reply to a chat request body, with `stop` and `max_tokens` applied."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    if tokens is not None:
        chunks = [f"w{i} " for i in range(tokens)]
    else:
        chunks = split_chunks(f"Echo: {text}")
    stop = body.get("stop")
    chunks, _ = _cut_at_stop(chunks, [stop] if isinstance(stop, str) else stop or [])
    finish = "stop"
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    if isinstance(max_tokens, int) and len(chunks) > max_tokens:
        chunks, finish = chunks[:max_tokens], "length"
    if scenario.name == "content_filter":
        chunks, finish = chunks[: int(scenario.options["after"])], "content_filter"
    return Reply(chunks, finish, prompt_tokens(messages))


def stream_steps(
    shape: str,
    body: dict[str, Any],
    scenario: Scenario,
    reply: Reply,
    rid: str,
    model: str,
    delay: float,
) -> Iterator[Step]:
    """What to put on the wire, in order, for a streaming request (after the headers)."""
    name, opts = scenario.name, scenario.options
    if name == "slow_first_token":
        yield ("wait", float(opts["delay"]))
    chunks = reply.chunks or [""]
    finish = finish_reason_for(reply.finish_reason, shape)
    usage = reply.usage()
    fail_at = (
        min(int(opts["after"]), len(chunks)) if name in MID_STREAM_FAILURES else -1
    )
    for i in range(len(chunks) + 1):
        if i and delay:
            yield ("wait", delay)
        if i == fail_at and name == "drop_mid_stream":
            yield ("abort", None)
            return
        if i == fail_at and name == "sse_error":
            yield ("data", sse(SSE_ERROR_BODY))
            yield ("end", None)
            return
        if i == fail_at and name == "malformed_sse":
            yield ("data", MALFORMED_SSE)
        if i == len(chunks):
            break
        last = i == len(chunks) - 1
        zhipu_usage = usage if last and shape == "zhipu" else None
        obj = chunk_obj(rid, model, chunks[i], finish if last else None, zhipu_usage)
        yield ("data", sse(obj))
    if shape == "openai" and (body.get("stream_options") or {}).get("include_usage"):
        yield ("data", sse(usage_chunk(rid, model, usage)))
    yield ("data", DONE_SSE)
    yield ("end", None)

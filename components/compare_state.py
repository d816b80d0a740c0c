"""The compare page's session state: conversation, shared parameters, targets, rounds and test cases.

A target is kept as a plain dict shaped like the sidebar picker's state (backend, endpoint per
backend, model / custom model / base URL per slot), so the picker's own controls can draw it.
Keys are never in here: they come from the environment, secrets or the tab's typed keys.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from backends.base import CUSTOM_MODEL, Backend, Connection, Endpoint, ModelInfo
from backends.registry import BACKENDS, get_backend
from components.backend_picker import picker_state
from components.state import durable
from core.compare.runner import TargetResult
from core.compare.translation import SOURCE_SCHEMA, Change
from core.compare.variables import GridCell
from core.errors import PlaygroundError
from core.messages import Conversation

STATE_KEY = "compare.state"
LETTERS = "ABCD"
MIN_TARGETS, MAX_TARGETS = 2, 4
# Backends a column can use: a model loaded in this server has its own panel in the sidebar.
TARGET_BACKENDS = tuple(b for b in BACKENDS if b != "local")
FORMATS = ("", "text", "json_object", "json_schema")


@dataclass
class Round:
    """One run of the conversation on every target, and the vote for its best answer."""

    number: int
    messages: list[dict[str, Any]]
    labels: list[str]
    results: list[TargetResult]
    changes: list[list[Change]]
    winner: int | None = None


@dataclass
class CompareState:
    conv: Conversation = field(default_factory=Conversation)
    source: dict[str, Any] = field(default_factory=SOURCE_SCHEMA.defaults)
    response_format: str = ""
    json_schema: str = ""
    targets: list[dict[str, Any]] = field(default_factory=list)
    rounds: list[Round] = field(default_factory=list)
    cases_base: list[dict[str, str]] = field(default_factory=list)  # what the table started from
    cases: list[dict[str, str]] = field(default_factory=list)  # the table as edited
    cases_version: int = 0
    cases_names: list[str] = field(default_factory=list)  # the table's columns
    grid: list[GridCell] = field(default_factory=list)
    grid_cases: list[dict[str, str]] = field(default_factory=list)
    error: PlaygroundError | None = None


@dataclass
class TargetChoice:
    """A drawn target: where its request goes and with what (the key only in `connection`)."""

    index: int
    backend: Backend
    endpoint: Endpoint
    model_id: str
    model: ModelInfo
    connection: Connection
    own_values: dict[str, Any] | None  # its own parameters, or None for the shared ones
    key_source: str | None = None  # "typed", the variable the key came from, or None

    @property
    def letter(self) -> str:
        return LETTERS[self.index]

    @property
    def label(self) -> str:
        return f"{self.letter} · {self.model_id or '—'}"


def new_target(backend_id: str, endpoint_id: str, model_id: str, base_url: str = "") -> dict[str, Any]:
    """A target's state; the model is the list's entry, or the custom id when it is not listed."""
    backend = get_backend(backend_id)
    endpoint = backend.endpoint(endpoint_id)
    target: dict[str, Any] = {"id": uuid.uuid4().hex[:8], "backend": backend.id,
                              "endpoint": {backend.id: endpoint.id}, "model": {}, "custom_model": {},
                              "base_url": {}, "params": {}, "own": False}
    slot = target_slot(target)
    known = any(m.id == model_id for m in endpoint.models)
    target["model"][slot] = model_id if known or not model_id else CUSTOM_MODEL
    if not known and model_id:
        target["custom_model"][slot] = model_id
    target["base_url"][slot] = base_url or default_base_url(backend.id, endpoint)
    return target


def target_slot(target: dict[str, Any]) -> str:
    """Where this target's model, URL and parameters are kept, and its widgets' key part."""
    backend = get_backend(target.get("backend"))
    endpoint = backend.endpoint(target.get("endpoint", {}).get(backend.id))
    return f"cmp.{target['id']}.{backend.id}/{endpoint.id}"


def default_base_url(backend_id: str, endpoint: Endpoint) -> str:
    """The sidebar's URL for this endpoint (it follows ZHIPUAI_BASE_URL, OPENAI_BASE_URL, ...)."""
    urls = picker_state().get("base_url", {})
    return urls.get(f"{backend_id}/{endpoint.id}") or endpoint.base_url


def default_targets(backend_id: str, endpoint: Endpoint, model_id: str,
                    base_url: str) -> list[dict[str, Any]]:
    """The sidebar's model, and the other side of the GPT <-> GLM migration."""
    if backend_id not in TARGET_BACKENDS:
        backend_id, model_id, base_url = "zhipu", "glm-4-flash", ""
        endpoint = get_backend("zhipu").endpoints[0]
    first = new_target(backend_id, endpoint.id, model_id, base_url)
    if endpoint.family != "glm":
        return [first, new_target("openai", "zhipu_compat", "glm-4-plus")]
    # GPT through the sidebar's OpenAI endpoint (OPENAI_BASE_URL may point it at a custom server).
    picker = picker_state()
    gpt_endpoint = get_backend("openai").endpoint(picker.get("endpoint", {}).get("openai"))
    if gpt_endpoint.family == "glm":
        gpt_endpoint = get_backend("openai").endpoint("openai")
    slot = f"openai/{gpt_endpoint.id}"
    chosen = picker.get("model", {}).get(slot)
    model = picker.get("custom_model", {}).get(slot) if chosen == CUSTOM_MODEL else chosen
    return [first, new_target("openai", gpt_endpoint.id, model or "gpt-4o")]


def compare_state() -> CompareState:
    return durable(STATE_KEY, CompareState)


def format_value(state: CompareState) -> dict[str, Any] | None:
    """The response_format the user asked for; json_schema with the schema typed (checked by the
    caller with `json_schema_value`)."""
    if state.response_format in ("", "text"):
        return None
    if state.response_format == "json_schema":
        return {"type": "json_schema", "json_schema": json_schema_value(state.json_schema)}
    return {"type": state.response_format}


def json_schema_value(text: str) -> dict[str, Any]:
    """The typed JSON schema as OpenAI's json_schema object; VALIDATION when it is not JSON."""
    import json

    from core.errors import ErrorKind

    try:
        schema = json.loads(text or "{}")
    except json.JSONDecodeError as err:
        raise PlaygroundError(ErrorKind.VALIDATION, params={
            "key": "compare.source.json_schema_bad", "line": err.lineno, "reason": err.msg}) from None
    if not isinstance(schema, dict):
        raise PlaygroundError(ErrorKind.VALIDATION, params={
            "key": "compare.source.json_schema_bad", "line": 1, "reason": "not an object"})
    if "schema" in schema and "name" in schema:
        return schema
    return {"name": "answer", "schema": schema}


def source_values(state: CompareState) -> dict[str, Any]:
    """The shared parameters plus the response format: what each target's translation reads."""
    values = dict(state.source)
    fmt = format_value(state)
    if fmt is not None:
        values["response_format"] = fmt
    return values

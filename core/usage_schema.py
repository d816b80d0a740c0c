"""The usage ledger's data: one row per model call, the filter the page reads with, the table.

Pure Python and SQLAlchemy Core, so the same table works on SQLite and PostgreSQL. Times are
stored as naive UTC; `day` and `hour` (UTC) are computed at insert so that bucketing needs no
database-specific date functions. The daily summaries of these rows are in core/usage_rollup.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

PAID_BY_USER = "user"  # UsageRow.paid_by of a call paid with the user's own typed key (not limited)

# Parameter names that could carry a credential: never stored, whatever a backend puts in params.
SECRET_PARAM_WORDS = ("api_key", "apikey", "authorization", "secret", "password", "bearer", "cookie")


@dataclass
class UsageRow:
    """One model call as the ledger keeps it. Never a key; message text only when asked for."""

    ts: datetime  # timezone-aware UTC: when the call started
    session_id: str
    page: str  # "chat" now; later "retrieval", "compare", "finetune", "embeddings"
    backend: str  # backend id, e.g. "zhipu", "openai"
    endpoint: str  # endpoint id, e.g. "zhipu", "openai", "zhipu_compat", "custom"
    base_url_host: str  # host (and port when the URL names one), never a full URL
    model: str
    params: dict[str, Any]  # key parameters as sent
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    tokens_estimated: bool  # True when the backend reported no usage and the tokens are estimated
    ttft_s: float | None
    latency_s: float | None
    streamed: bool
    outcome: str  # "ok" | "stopped" | "error"
    error_kind: str | None  # ErrorKind value
    error_code: str | None  # provider code, e.g. "1113"
    cost: float | None
    currency: str | None  # "CNY" | "USD"
    request_id: str | None = None
    messages_text: str | None = None  # only when the user turned storing text on
    id: int | None = None
    user_id: str = ""  # who made the call when the app knows (signed-in team use); "" otherwise
    paid_by: str = ""  # PAID_BY_USER when paid with a key the user typed; "" the server's (or none)


@dataclass(frozen=True)
class UsageFilter:
    """Which rows a query covers; every empty field means "all"."""

    start: datetime | None = None  # inclusive, aware UTC (a naive time is read as UTC)
    end: datetime | None = None  # exclusive
    backends: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()
    session_id: str | None = None
    users: tuple[str, ...] = ()  # user ids ("" = calls made without signing in)
    payers: tuple[str, ...] = ()  # "" = on the server's keys (what limits count), PAID_BY_USER


@dataclass(frozen=True)
class Summary:
    """The headline figures for a filter. Percentiles are nearest-rank over the rows that have one."""

    calls: int
    errors: int
    error_rate: float  # errors / calls (0.0 when no calls)
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    estimated_calls: int  # rows with tokens_estimated
    cost_by_currency: dict[str, float] = field(default_factory=dict)
    latency_p50: float | None = None
    latency_p95: float | None = None
    ttft_p50: float | None = None
    ttft_p95: float | None = None


metadata = MetaData()

calls = Table(
    "usage_calls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", DateTime(timezone=False), nullable=False),  # naive UTC
    Column("day", String(10), nullable=False),  # "2026-11-21" (UTC)
    Column("hour", String(13), nullable=False),  # "2026-11-21 14" (UTC)
    Column("session_id", String(64), nullable=False),
    Column("page", String(32), nullable=False),
    Column("backend", String(64), nullable=False),
    Column("endpoint", String(64), nullable=False),
    Column("base_url_host", String(255), nullable=False),
    Column("model", String(255), nullable=False),
    Column("params", Text, nullable=False),  # JSON text
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("total_tokens", Integer),
    Column("tokens_estimated", Boolean, nullable=False),
    Column("ttft_s", Float),
    Column("latency_s", Float),
    Column("latency_ms", Integer),  # floor(latency_s * 1000); the latency bins are in usage_rollup
    Column("streamed", Boolean, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("error_kind", String(32)),
    Column("error_code", String(64)),
    Column("cost", Float),
    Column("currency", String(8)),
    Column("request_id", String(255)),
    Column("messages_text", Text),
    Column("user_id", String(255), nullable=False, server_default=""),  # added later: see usage_migrate
    Column("paid_by", String(8), nullable=False, server_default=""),  # added later: see usage_migrate
    Index("ix_usage_calls_ts", "ts"),
    Index("ix_usage_calls_model", "model"),
    Index("ix_usage_calls_session", "session_id"),
    Index("ix_usage_calls_backend", "backend"),  # distinct_values: one seek per distinct value
    Index("ix_usage_calls_page", "page"),
    Index("ix_usage_calls_user_ts", "user_id", "ts"),  # a user's recent calls: limits
    # Percentiles: walked in value order up to the k-th row, the filter's columns read in the index.
    Index("ix_usage_calls_latency", "latency_s", "ts", "model", "backend", "page"),
    Index("ix_usage_calls_ttft", "ttft_s", "ts", "model", "backend", "page"),
)

_LENGTHS = {c.name: c.type.length for c in calls.columns
            if isinstance(c.type, String) and not isinstance(c.type, Text) and c.type.length}


def naive_utc(value: datetime) -> datetime:
    """An aware time as naive UTC, as stored; a naive one is taken to be UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def aware_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def safe_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """The parameters without any entry whose name suggests a credential."""
    return {str(k): v for k, v in (params or {}).items()
            if not any(word in str(k).lower().replace("-", "_") for word in SECRET_PARAM_WORDS)}


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def to_db(row: UsageRow) -> dict[str, Any]:
    """The insert values for a row: UTC buckets added, strings cut to their column, JSON params."""
    ts = naive_utc(row.ts)
    latency = _float(row.latency_s)
    values: dict[str, Any] = {
        "ts": ts, "day": ts.strftime("%Y-%m-%d"), "hour": ts.strftime("%Y-%m-%d %H"),
        "session_id": row.session_id or "", "page": row.page or "", "backend": row.backend or "",
        "endpoint": row.endpoint or "", "base_url_host": row.base_url_host or "",
        "model": row.model or "",
        "params": json.dumps(safe_params(row.params), ensure_ascii=False, sort_keys=True, default=str),
        "prompt_tokens": _int(row.prompt_tokens), "completion_tokens": _int(row.completion_tokens),
        "total_tokens": _int(row.total_tokens), "tokens_estimated": bool(row.tokens_estimated),
        "ttft_s": _float(row.ttft_s), "latency_s": latency,
        "latency_ms": None if latency is None else max(0, math.floor(latency * 1000 + 1e-6)),
        "streamed": bool(row.streamed), "outcome": row.outcome or "ok",
        "error_kind": row.error_kind, "error_code": row.error_code, "cost": _float(row.cost),
        "currency": row.currency, "request_id": row.request_id, "messages_text": row.messages_text,
        "user_id": row.user_id or "", "paid_by": row.paid_by or "",
    }
    for name, length in _LENGTHS.items():
        if isinstance(values.get(name), str):
            values[name] = values[name][:length]
    return values


ROW_COLUMNS = tuple(c for c in calls.columns if c.name not in ("day", "hour", "latency_ms"))


ROW_NAMES = tuple(c.name for c in ROW_COLUMNS)
_PARAMS, _TS = ROW_NAMES.index("params"), ROW_NAMES.index("ts")
_FLAGS = (ROW_NAMES.index("tokens_estimated"), ROW_NAMES.index("streamed"))


def from_db(values: Any) -> UsageRow:
    """A selected row (the values of ROW_COLUMNS, in order) back as a UsageRow with an aware UTC
    time. Positional on purpose: the page's table turns a thousand rows at a time."""
    data = list(values)
    try:
        params = json.loads(data[_PARAMS] or "{}")
    except ValueError:
        params = {}
    data[_PARAMS] = params if isinstance(params, dict) else {}
    data[_TS] = aware_utc(data[_TS])
    for i in _FLAGS:
        data[i] = bool(data[i])
    return UsageRow(**dict(zip(ROW_NAMES, data, strict=True)))

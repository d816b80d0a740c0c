"""One error vocabulary for every backend: what went wrong, in words a non-coder can act on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """The kinds of failure a user can tell apart and do something about."""

    AUTH = "auth"
    QUOTA = "quota"
    RATE_LIMIT = "rate_limit"
    INVALID_REQUEST = "invalid_request"
    PROMPT_TOO_LONG = "prompt_too_long"
    CONTENT_FILTERED = "content_filtered"
    MODEL_NOT_FOUND = "model_not_found"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    STREAM_BROKEN = "stream_broken"
    SERVER_ERROR = "server_error"
    MISSING_KEY = "missing_key"
    VALIDATION = "validation"
    UNKNOWN = "unknown"


# Zhipu business codes (from the error body) -> kind. The code is what support asks for.
ZHIPU_CODES: dict[str, ErrorKind] = {
    **{str(c): ErrorKind.AUTH for c in range(1000, 1005)},
    "1110": ErrorKind.AUTH,
    "1111": ErrorKind.AUTH,
    "1112": ErrorKind.AUTH,
    "1113": ErrorKind.QUOTA,
    "1120": ErrorKind.AUTH,
    "1210": ErrorKind.INVALID_REQUEST,
    "1211": ErrorKind.MODEL_NOT_FOUND,
    "1212": ErrorKind.INVALID_REQUEST,
    "1213": ErrorKind.INVALID_REQUEST,
    "1214": ErrorKind.INVALID_REQUEST,
    "1215": ErrorKind.INVALID_REQUEST,
    "1261": ErrorKind.PROMPT_TOO_LONG,
    "1301": ErrorKind.CONTENT_FILTERED,
    "1302": ErrorKind.RATE_LIMIT,
    "1303": ErrorKind.RATE_LIMIT,
    "1304": ErrorKind.QUOTA,
    "1305": ErrorKind.RATE_LIMIT,
}

# OpenAI-style string codes that say more than the status does.
OPENAI_CODES: dict[str, ErrorKind] = {
    "invalid_api_key": ErrorKind.AUTH,
    "insufficient_quota": ErrorKind.QUOTA,
    "context_length_exceeded": ErrorKind.PROMPT_TOO_LONG,
    "model_not_found": ErrorKind.MODEL_NOT_FOUND,
    "content_filter": ErrorKind.CONTENT_FILTERED,
    "rate_limit_exceeded": ErrorKind.RATE_LIMIT,
}

STATUS_KINDS: dict[int, ErrorKind] = {
    400: ErrorKind.INVALID_REQUEST,
    401: ErrorKind.AUTH,
    402: ErrorKind.QUOTA,
    403: ErrorKind.AUTH,
    404: ErrorKind.MODEL_NOT_FOUND,
    408: ErrorKind.TIMEOUT,
    413: ErrorKind.PROMPT_TOO_LONG,
    422: ErrorKind.INVALID_REQUEST,
    429: ErrorKind.RATE_LIMIT,
}


@dataclass(eq=False)  # an exception compares and hashes by identity, like any other
class PlaygroundError(Exception):
    """A failure in the common vocabulary. `detail` is the provider's own words, shown folded."""

    kind: ErrorKind
    code: str | None = None
    status: int | None = None
    detail: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None  # the provider's id for the failed request, for support

    def __post_init__(self) -> None:
        self.kind = ErrorKind(self.kind)
        super().__init__(self.kind.value, self.code, self.detail)

    def __reduce__(self) -> tuple[Any, ...]:
        """Copy and pickle with every field (Exception's default passes only `args`)."""
        return (type(self), (self.kind, self.code, self.status, self.detail, dict(self.params),
                             self.request_id))

    def __str__(self) -> str:
        parts = [self.kind.value]
        if self.code:
            parts.append(f"code {self.code}")
        if self.status:
            parts.append(f"HTTP {self.status}")
        if self.detail:
            parts.append(self.detail)
        return " | ".join(parts)

    @property
    def message_key(self) -> str:
        """Catalogue key of the fix: a code-specific one where the catalogue has it."""
        from core.i18n import has  # core.i18n imports nothing from here: no cycle

        if self.kind is ErrorKind.VALIDATION:
            return str(self.params.get("key") or "validation.generic")
        if self.code_key and has(self.code_key):
            return self.code_key
        return f"error.{self.kind.value}.fix"

    @property
    def code_key(self) -> str | None:
        """Catalogue key of the provider code's own fix (it may not exist)."""
        return f"error.code.{self.code}" if self.code else None


def parse_error_body(body: str | bytes | None) -> tuple[str | None, str]:
    """Find the provider code and message in an error body (Zhipu or OpenAI JSON, or plain text)."""
    if body is None:
        return None, ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, ValueError):
        return None, body.strip()[:500]
    err = data.get("error", data) if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return None, str(data)[:500]
    code = err.get("code")
    message = err.get("message") or err.get("msg") or ""
    return (str(code) if code not in (None, "") else None), str(message)[:500]


def kind_for(status: int | None, code: str | None) -> ErrorKind:
    """The kind for an HTTP status and provider code: the code wins, it is more precise."""
    if code:
        if code in ZHIPU_CODES:
            return ZHIPU_CODES[code]
        if code in OPENAI_CODES:
            return OPENAI_CODES[code]
    if status is None:
        return ErrorKind.UNKNOWN
    if status in STATUS_KINDS:
        return STATUS_KINDS[status]
    if status >= 500:
        return ErrorKind.SERVER_ERROR
    return ErrorKind.INVALID_REQUEST if 400 <= status < 500 else ErrorKind.UNKNOWN


def from_http(status: int | None, body: str | bytes | None,
              request_id: str | None = None) -> PlaygroundError:
    """Translate an HTTP error response from any provider into the common vocabulary."""
    code, message = parse_error_body(body)
    return PlaygroundError(kind_for(status, code), code=code, status=status, detail=message,
                           request_id=request_id)


def request_id_of(response: Any) -> str | None:
    """The request id a provider put in its response headers, if any."""
    headers = getattr(response, "headers", None) or {}
    for name in ("x-request-id", "x-log-id", "request-id"):
        value = headers.get(name) if hasattr(headers, "get") else None
        if value:
            return str(value)
    return None


def from_finish_reason(reason: str | None) -> PlaygroundError | None:
    """A finish reason that means the answer was cut by the provider, as an error; else None."""
    if reason in ("sensitive", "content_filter"):
        return PlaygroundError(ErrorKind.CONTENT_FILTERED, code="1301" if reason == "sensitive" else None,
                               detail=f"finish_reason={reason}")
    if reason == "network_error":
        return PlaygroundError(ErrorKind.STREAM_BROKEN, detail="finish_reason=network_error")
    return None

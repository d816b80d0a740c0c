"""Wire formats of the fake LLM server: OpenAI/Zhipu chunk, completion and error bodies."""

from __future__ import annotations

import json
import time
from typing import Any

# Error scenarios: name -> (HTTP status, Zhipu error code, Zhipu error message).
ZHIPU_ERRORS: dict[str, tuple[int, str, str]] = {
    "auth_401": (
        401,
        "1002",
        "Authorization Token非法，请确认Authorization Token正确传递。",
    ),
    "balance_1113": (429, "1113", "您的账户已欠费，请充值后重试。"),
    "concurrency_1302": (
        429,
        "1302",
        "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。",
    ),
    "system_only_1214": (400, "1214", "messages 参数非法。请检查文档。"),
    "too_long_1261": (400, "1261", "Prompt 超长"),
    "sensitive_1301": (
        400,
        "1301",
        (
            "系统检测到输入或生成内容可能包含不安全或敏感内容，"
            "请您避免输入易产生敏感内容的提示语，感谢您的配合。"
        ),
    ),
    "server_500": (500, "500", "Internal Error"),
    "overloaded_503": (503, "1305", "该模型当前访问量过大，请您稍后再试"),
}

# The /v1 route answers auth_401 OpenAI-style; every other error uses the Zhipu body
# (as Zhipu's OpenAI-compatible endpoint does).
OPENAI_AUTH_ERROR: dict[str, Any] = {
    "error": {
        "message": "Incorrect API key provided",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
}

SSE_ERROR_BODY: dict[str, Any] = {
    "error": {"code": "1301", "message": ZHIPU_ERRORS["sensitive_1301"][2]}
}

MALFORMED_SSE = b"data: {not json\n\n"
DONE_SSE = b"data: [DONE]\n\n"


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as is, like the real APIs)."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def sse(obj: Any) -> bytes:
    """One SSE event: `data: <json>` plus the blank line."""
    return b"data: " + dumps(obj) + b"\n\n"


def finish_reason_for(reason: str, shape: str) -> str:
    """Map a generic finish reason to the wire value of `shape` ("openai"/"zhipu")."""
    if reason == "content_filter" and shape == "zhipu":
        return "sensitive"
    return reason


def chunk_obj(
    rid: str,
    model: str,
    content: str,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A `chat.completion.chunk` with one choice (usage only on Zhipu's last chunk)."""
    obj: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
    }
    if usage is not None:
        obj["usage"] = usage
    return obj


def usage_chunk(rid: str, model: str, usage: dict[str, int]) -> dict[str, Any]:
    """OpenAI trailing usage chunk (`choices: []`) for `stream_options.include_usage`."""
    return {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [],
        "usage": usage,
    }


def completion_obj(
    rid: str, model: str, text: str, finish: str, usage: dict[str, int], shape: str
) -> dict[str, Any]:
    """A non-streaming `chat.completion` object."""
    obj: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason_for(finish, shape),
            }
        ],
        "usage": usage,
    }
    if shape == "zhipu":
        obj["request_id"] = rid
    return obj


def error_body(name: str, shape: str) -> tuple[int, dict[str, Any]]:
    """HTTP status and JSON body for an error scenario on the given route shape."""
    status, code, message = ZHIPU_ERRORS[name]
    if name == "auth_401" and shape == "openai":
        return status, OPENAI_AUTH_ERROR
    return status, {"error": {"code": code, "message": message}}

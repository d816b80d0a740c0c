"""Fake embeddings and retrieval-file endpoints, in the shapes the zhipuai and openai SDKs parse.

Routes (under any prefix, e.g. /api/paas/v4 or /v1):
  POST /embeddings   {"input": str | [str], "model", "dimensions"?, "encoding_format"?}
  POST /files        multipart with purpose "retrieval" and a knowledge_id (other purposes are
                     left to finetune_api)

Vectors are deterministic and meaningful: hashed features of the text's words and Chinese
character pairs, L2-normalised, so texts that share words are close (cosine) and a test can know
the best match. `encoding_format: "base64"` (the openai SDK's default) gets little-endian float32.
An error scenario queued on the fake server (`llm.queue("auth_401")`, "balance_1113",
"server_500", ...) answers the next request to these routes; "timeout" sends nothing for its delay.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import time
from email import policy
from email.parser import BytesParser
from typing import Any

from .protocol import error_body

DEFAULT_DIMENSIONS = {"embedding-2": 1024, "embedding-3": 2048, "text-embedding-3-small": 1536}
FALLBACK_DIMENSIONS = 256
_WORD = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u4e00-\u9fff]+")


def features(text: str) -> list[str]:
    """Lowercased words, and every Chinese character and pair of neighbouring characters."""
    lowered = text.lower()
    out = _WORD.findall(lowered)
    for run in _CJK.findall(lowered):
        out.extend(run)
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return out


def vector(text: str, dimensions: int) -> list[float]:
    """The fake embedding of `text`: a hashed bag of features, unit length (all zero for no text)."""
    values = [0.0] * dimensions
    for feature in features(text):
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        slot = int.from_bytes(digest[:4], "little") % dimensions
        values[slot] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values] if norm else values


def prompt_tokens(texts: list[str]) -> int:
    return sum(len(t) // 2 + 1 for t in texts)


def handle(handler: Any, method: str, path: str, raw: bytes) -> bool:
    """Answer an embeddings or retrieval-file request; False when it is not one of ours."""
    path = "/" + "/".join(p for p in path.split("?")[0].split("/") if p)
    if method != "POST":
        return False
    if path.endswith("/embeddings"):
        _embeddings(handler, path, raw)
        return True
    if path.endswith("/files"):
        fields = _multipart(raw, handler.headers.get("Content-Type", ""))
        if fields.get("purpose", (None, b""))[1].decode(errors="replace") == "retrieval":
            _retrieval_file(handler, path, fields)
            return True
    return False


def _failed(handler: Any, path: str, body: dict[str, Any]) -> bool:
    """Answer with a queued error scenario (or stay silent for a queued timeout); True if done so."""
    fake = handler.fake
    scenario = fake._pop()
    if scenario is None:
        return False
    headers = {k.lower(): v for k, v in handler.headers.items()}
    fake._record(path, headers, {**body, "failed": scenario.name})
    if scenario.is_error:
        shape = "openai" if "/v1/" in path else "zhipu"
        handler._send_json(*error_body(scenario.name, shape), fake._next_id())
        return True
    if scenario.name == "timeout":
        handler._wait(float(scenario.options["delay"]))
        handler._abort()
        return True
    return False  # other scenarios mean nothing here: answer normally


def _embeddings(handler: Any, path: str, raw: bytes) -> None:
    fake = handler.fake
    try:
        body = json.loads(raw or b"{}")
        texts = body["input"]
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("input must be a string or a non-empty list of strings")
        model = str(body.get("model") or "")
        if not model:
            raise ValueError("model is required")
    except (ValueError, KeyError, TypeError) as exc:
        handler._send_json(400, {"error": {"code": "1210", "message": f"{type(exc).__name__}: {exc}"}})
        return
    if _failed(handler, path, body):
        return
    fake._record(path, {k.lower(): v for k, v in handler.headers.items()}, body)
    dimensions = int(body.get("dimensions") or DEFAULT_DIMENSIONS.get(model, FALLBACK_DIMENSIONS))
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        values = vector(text, dimensions)
        encoded: Any = values
        if as_base64:
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = prompt_tokens(texts)
    rid = fake._next_id()
    usage = {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}
    handler._send_json(200, {"id": rid, "object": "list", "model": model, "data": data, "usage": usage}, rid)


def _multipart(raw: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, content) of a multipart/form-data body."""
    if not content_type.startswith("multipart/"):
        return {}
    head = b"Content-Type: " + content_type.encode() + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


def _retrieval_file(handler: Any, path: str, fields: dict[str, tuple[str | None, bytes]]) -> None:
    fake = handler.fake
    filename, content = fields.get("file", (None, b""))
    knowledge_id = fields.get("knowledge_id", (None, b""))[1].decode(errors="replace")
    summary = {"purpose": "retrieval", "knowledge_id": knowledge_id, "filename": filename,
               "bytes": len(content)}
    if _failed(handler, path, summary):
        return
    fake._record(path, {k.lower(): v for k, v in handler.headers.items()}, summary)
    rid = fake._next_id()
    if not knowledge_id:
        handler._send_json(400, {"error": {"code": "1210", "message": "knowledge_id 不能为空"}}, rid)
        return
    if not content:
        handler._send_json(400, {"error": {"code": "1210", "message": "file is empty"}}, rid)
        return
    handler._send_json(200, {"id": f"kbfile-{rid}", "object": "file", "bytes": len(content),
                             "created_at": int(time.time()), "filename": filename or "upload",
                             "purpose": "retrieval", "status": "processing"}, rid)

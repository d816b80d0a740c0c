"""Uploading a document to a knowledge base on Zhipu's platform (the cloud retrieval tool's documents).

`files.create(file=..., purpose="retrieval", knowledge_id=...)` through the zhipuai SDK; Zhipu
splits, indexes and embeds the document itself. Errors speak the common vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends.base import Connection
from backends.zhipu import ZHIPU_ENDPOINT, _client, translate_zhipu_error
from core.errors import ErrorKind, PlaygroundError

KEY_ENVS = ZHIPU_ENDPOINT.key_envs


@dataclass(frozen=True)
class UploadedFile:
    """What Zhipu answered about an uploaded document."""

    id: str
    filename: str
    size_bytes: int | None
    status: str | None


def upload_to_knowledge_base(conn: Connection, knowledge_id: str, filename: str, data: bytes) -> UploadedFile:
    """Send one document to the Zhipu knowledge base `knowledge_id`."""
    if not conn.api_key:
        raise PlaygroundError(ErrorKind.MISSING_KEY, params={"envs": ", ".join(KEY_ENVS)})
    knowledge_id = (knowledge_id or "").strip()
    if not knowledge_id:
        raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "retrieval.error.no_knowledge_id"})
    try:
        found = _client(conn).files.create(file=(filename, data), purpose="retrieval",
                                           knowledge_id=knowledge_id)
    except Exception as exc:
        raise translate_zhipu_error(exc, False) from None
    return UploadedFile(id=str(found.id or ""), filename=str(found.filename or filename),
                        size_bytes=found.bytes, status=found.status)

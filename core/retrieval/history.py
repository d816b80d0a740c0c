"""The last question asked of a knowledge base, kept on disk: a refresh or a restart shows it again.

One JSON file per mode (`last_local.json`, `last_cloud.json`) in the knowledge base's folder: the
question, its settings, the chunks found, the exact messages, and the answer with its statistics
or its error. No API key is ever part of it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.errors import ErrorKind, PlaygroundError
from core.retrieval.ask import AskPlan
from core.retrieval.kb_index import StoredChunk
from core.retrieval.search import Hit
from core.retrieval.storage import read_json, write_json_atomic

MODES = ("local", "cloud")


def _path(kb_dir: Path, mode: str) -> Path:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    return Path(kb_dir) / f"last_{mode}.json"


def hit_to_dict(hit: Hit) -> dict[str, Any]:
    return {"chunk": asdict(hit.chunk), "rank": hit.rank, "score": hit.score, "method": hit.method,
            "details": dict(hit.details)}


def hit_from_dict(data: dict[str, Any]) -> Hit:
    return Hit(chunk=StoredChunk(**data["chunk"]), rank=int(data["rank"]), score=float(data["score"]),
               method=str(data["method"]), details=dict(data.get("details") or {}))


def error_to_dict(err: PlaygroundError | None) -> dict[str, Any] | None:
    if err is None:
        return None
    return {"kind": err.kind.value, "code": err.code, "status": err.status, "detail": err.detail,
            "params": dict(err.params), "request_id": err.request_id}


def error_from_dict(data: Any) -> PlaygroundError | None:
    if not isinstance(data, dict):
        return None
    try:
        return PlaygroundError(ErrorKind(data["kind"]), code=data.get("code"), status=data.get("status"),
                               detail=str(data.get("detail") or ""), params=dict(data.get("params") or {}),
                               request_id=data.get("request_id"))
    except (KeyError, ValueError, TypeError):
        return None


def new_result(plan: AskPlan) -> dict[str, Any]:
    """A result record for a plan, before any answer."""
    return {"question": plan.question, "method": plan.method, "top_k": plan.top_k,
            "threshold": plan.threshold, "hits": [hit_to_dict(h) for h in plan.hits],
            "messages": plan.messages, "tools": plan.tools, "answer": None}


def hits_of(result: dict[str, Any]) -> list[Hit]:
    out = []
    for data in result.get("hits") or []:
        try:
            out.append(hit_from_dict(data))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def save_result(kb_dir: Path, mode: str, result: dict[str, Any]) -> bool:
    """Write the result atomically; False when the disk refused (the page still shows it)."""
    try:
        write_json_atomic(_path(kb_dir, mode), result)
        return True
    except (OSError, TypeError, ValueError):
        return False


def load_result(kb_dir: Path, mode: str) -> dict[str, Any] | None:
    data = read_json(_path(kb_dir, mode))
    return data if isinstance(data, dict) and "question" in data else None

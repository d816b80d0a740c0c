"""Fake files + fine-tuning endpoints, in the shapes the zhipuai (and openai) SDKs parse.

Routes (under any prefix, e.g. /api/paas/v4 or /v1):
  POST /files                            multipart upload with purpose "fine-tune" (other purposes
                                         are left to the other modules)
  POST /fine_tuning/jobs                 create a job
  GET  /fine_tuning/jobs                 list jobs
  GET  /fine_tuning/jobs/{id}            retrieve: every call moves the job one step on
  GET  /fine_tuning/jobs/{id}/events     its events, newest first
  POST /fine_tuning/jobs/{id}/cancel     cancel an unfinished job

A job goes validating_files -> queued -> running -> succeeded, one step per retrieve. It fails
at validation when a line of its training file is not a JSON object with a `messages` list,
and at training when its suffix contains "fail". An error scenario queued on the fake server
(`llm.queue("auth_401")`, "balance_1113", "server_500"...) answers the next request to any of
these routes, as it would a chat request.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .protocol import error_body

STEPS = ("validating_files", "queued", "running", "succeeded")
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
_JOB = re.compile(r"/fine_tuning/jobs/([\w.-]+)(/events|/cancel)?$")


@dataclass
class FineTuneState:
    """Files and jobs of one fake server."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def reset(self) -> None:
        with self.lock:
            self.files.clear()
            self.jobs.clear()
            self.events.clear()

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self.ids)}"


def state(fake: Any) -> FineTuneState:
    """The fine-tune state of a FakeLLMServer, made on first use."""
    found = getattr(fake, "_finetune_state", None)
    if found is None:
        found = FineTuneState()
        fake._finetune_state = found
    return found


def handle(handler: Any, method: str, path: str, raw: bytes) -> bool:
    """Answer a files / fine-tuning request; False when the path is not one of ours."""
    path = "/" + "/".join(p for p in path.split("?")[0].split("/") if p)
    if path.endswith("/files"):
        if method != "POST" or _purpose(raw, handler.headers.get("Content-Type", "")) != "fine-tune":
            return False  # another purpose (retrieval, batch) is another module's
    elif "/fine_tuning/jobs" not in path:
        return False
    fake = handler.fake
    headers = {k.lower(): v for k, v in handler.headers.items()}
    rid = fake._next_id()
    scenario = fake._pop()
    if scenario is not None and scenario.is_error:
        fake._record(path, headers, {"method": method, "failed": scenario.name})
        handler._send_json(*error_body(scenario.name, "openai" if "/v1/" in path else "zhipu"), rid)
        return True
    ft = state(fake)
    try:
        status, body = _route(ft, method, path, raw, headers)
    except ValueError as exc:
        status, body = 400, {"error": {"code": "1210", "message": str(exc)}}
    fake._record(path, headers, {"method": method, **_summary(body, raw, headers)})
    handler._send_json(status, body, rid)
    return True


def _summary(body: Any, raw: bytes, headers: dict[str, str]) -> dict[str, Any]:
    if headers.get("content-type", "").startswith("multipart/"):
        return {"multipart_bytes": len(raw)}
    try:
        return {"json": json.loads(raw)} if raw else {}
    except ValueError:
        return {}


def _route(ft: FineTuneState, method: str, path: str, raw: bytes,
           headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    if path.endswith("/files") and method == "POST":
        return 200, _upload(ft, raw, headers.get("content-type", ""))
    if path.endswith("/fine_tuning/jobs"):
        if method == "POST":
            return 200, _create(ft, json.loads(raw or b"{}"))
        with ft.lock:
            jobs = sorted(ft.jobs.values(), key=lambda j: j["created_at"], reverse=True)
        return 200, {"object": "list", "data": [dict(j) for j in jobs], "has_more": False}
    match = _JOB.search(path)
    if match is None:
        return 404, {"error": {"code": "404", "message": f"no route {path}"}}
    job_id, tail = match.group(1), match.group(2)
    with ft.lock:
        job = ft.jobs.get(job_id)
        if job is None:
            return 404, {"error": {"code": "404", "message": f"no fine-tuning job {job_id}"}}
        if tail == "/events":
            return 200, {"object": "list", "data": list(reversed(ft.events[job_id])), "has_more": False}
        if tail == "/cancel" and method == "POST":
            if job["status"] in TERMINAL:
                return 400, {"error": {"code": "1210", "message": f"job {job_id} is already {job['status']}"}}
            job["status"] = "cancelled"
            job["finished_at"] = int(time.time())
            _event(ft, job_id, "Job cancelled by the user.")
            return 200, dict(job)
        _advance(ft, job)
        return 200, dict(job)


def _upload(ft: FineTuneState, raw: bytes, content_type: str) -> dict[str, Any]:
    fields = _multipart(raw, content_type)
    if "file" not in fields:
        raise ValueError("no file in the upload")
    purpose = fields.get("purpose", (None, b""))[1].decode()
    filename, content = fields["file"]
    with ft.lock:
        file_id = ft.next_id("file")
        obj = {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
               "filename": filename or "upload.jsonl", "purpose": purpose}
        ft.files[file_id] = {**obj, "content": content}
    return obj


def _create(ft: FineTuneState, body: dict[str, Any]) -> dict[str, Any]:
    model, training = body.get("model"), body.get("training_file")
    if not model or not training:
        raise ValueError("model and training_file are required")
    with ft.lock:
        if training not in ft.files:
            raise ValueError(f"training file {training} not found")
        validation = body.get("validation_file")
        if validation and validation not in ft.files:
            raise ValueError(f"validation file {validation} not found")
        job_id = ft.next_id("ftjob")
        job = {"id": job_id, "object": "fine_tuning.job", "model": model, "created_at": int(time.time()),
               "finished_at": None, "fine_tuned_model": None, "status": STEPS[0],
               "hyperparameters": body.get("hyperparameters") or {}, "training_file": training,
               "validation_file": validation, "result_files": [], "trained_tokens": None,
               "error": None, "suffix": body.get("suffix") or ""}
        ft.jobs[job_id] = job
        ft.events[job_id] = []
        _event(ft, job_id, f"Created fine-tuning job {job_id}.")
    return dict(job)


def _advance(ft: FineTuneState, job: dict[str, Any]) -> None:
    """One step along STEPS, or into failed; the caller holds the lock."""
    if job["status"] in TERMINAL:
        return
    job_id = job["id"]
    if job["status"] == "validating_files":
        bad = _bad_line(ft.files[job["training_file"]]["content"])
        if bad is not None:
            _fail(ft, job, "invalid_training_file", f"Training file line {bad}: not a JSON object "
                                                    "with a messages list.")
            return
    if job["status"] == "running" and "fail" in job["suffix"]:
        _fail(ft, job, "training_failed", "Training stopped: the loss did not converge.")
        return
    job["status"] = STEPS[STEPS.index(job["status"]) + 1]
    content = ft.files[job["training_file"]]["content"]
    if job["status"] == "running":
        _event(ft, job_id, "Training started.")
        _event(ft, job_id, "Step 1/2: training loss=1.25", kind="metrics",
               data={"epoch": 1, "current_steps": 1, "total_steps": 2, "loss": 1.25})
    elif job["status"] == "succeeded":
        job["trained_tokens"] = len(content.decode("utf-8", errors="replace"))
        job["fine_tuned_model"] = f"{job['model']}-ft-{job['suffix'] or 'model'}-{job_id.split('-')[-1]}"
        job["finished_at"] = int(time.time())
        job["result_files"] = [ft.next_id("file")]
        _event(ft, job_id, "Step 2/2: training loss=0.42", kind="metrics",
               data={"epoch": 2, "current_steps": 2, "total_steps": 2, "loss": 0.42})
        _event(ft, job_id, f"Fine-tuning job succeeded: {job['fine_tuned_model']}.")
    else:
        _event(ft, job_id, f"Job {job['status']}.")


def _fail(ft: FineTuneState, job: dict[str, Any], code: str, message: str) -> None:
    job.update(status="failed", finished_at=int(time.time()), error={"code": code, "message": message})
    _event(ft, job["id"], message, level="error")


def _event(ft: FineTuneState, job_id: str, message: str, kind: str = "message", level: str = "info",
           data: dict[str, Any] | None = None) -> None:
    ft.events[job_id].append({"object": "fine_tuning.job.event", "id": ft.next_id("ftevent"),
                              "type": kind, "created_at": int(time.time()), "level": level,
                              "message": message, "data": data})


def _bad_line(content: bytes) -> int | None:
    for n, line in enumerate(content.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return n
        if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
            return n
    return None


def _purpose(raw: bytes, content_type: str) -> str | None:
    try:
        return _multipart(raw, content_type).get("purpose", (None, b""))[1].decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _multipart(raw: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, value) of a multipart/form-data body."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise ValueError("not a multipart upload")
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in raw.split(b"--" + match.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", errors="replace")
        name = re.search(r'name="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        if name:
            out[name.group(1)] = (filename.group(1) if filename else None, value.removesuffix(b"\r\n"))
    return out

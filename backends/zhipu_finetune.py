"""Zhipu's fine-tuning through the zhipuai SDK: upload a file, create, watch and cancel a job.

Errors speak core/errors.py's vocabulary (the same translation as the chat backend); nothing
here touches Streamlit. Upload and job calls are not model calls: they are not recorded in the
usage ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from backends.base import Connection
from backends.zhipu import ZHIPU_ENDPOINT, _client, translate_zhipu_error
from core.errors import ErrorKind, PlaygroundError
from core.finetune.jobs import Job, JobEvent, JobRequest

T = TypeVar("T")
KEY_ENVS = ZHIPU_ENDPOINT.key_envs


def job_from_sdk(obj: Any) -> Job:
    """A zhipuai FineTuningJob (or anything with its attributes) as the core's Job."""
    error = getattr(obj, "error", None)
    return Job(id=str(getattr(obj, "id", "") or ""), status=str(getattr(obj, "status", "") or ""),
               model=str(getattr(obj, "model", "") or ""),
               fine_tuned_model=getattr(obj, "fine_tuned_model", None) or None,
               created_at=getattr(obj, "created_at", None), finished_at=getattr(obj, "finished_at", None),
               trained_tokens=getattr(obj, "trained_tokens", None),
               training_file=str(getattr(obj, "training_file", "") or ""),
               validation_file=getattr(obj, "validation_file", None) or None,
               error_code=str(error.code) if error is not None and getattr(error, "code", None) else None,
               error_message=str(error.message) if error is not None and getattr(error, "message", None)
               else None)


def event_from_sdk(obj: Any) -> JobEvent:
    data = getattr(obj, "data", None)
    metrics = {k: v for k, v in (data.model_dump() if hasattr(data, "model_dump") else {}).items()
               if v is not None}
    return JobEvent(id=str(getattr(obj, "id", "") or ""), created_at=getattr(obj, "created_at", None),
                    level=str(getattr(obj, "level", "") or "info"),
                    message=str(getattr(obj, "message", "") or ""), metrics=metrics)


class ZhipuFineTune:
    """The FineTuneService for Zhipu's open platform (or any server speaking its API).

    Cheap to make per action: the SDK client is the chat backend's, cached per connection."""

    def __init__(self, conn: Connection) -> None:
        if not conn.api_key:
            raise PlaygroundError(ErrorKind.MISSING_KEY, params={"envs": ", ".join(KEY_ENVS)})
        self.conn = conn

    def _call(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except PlaygroundError:
            raise
        except Exception as exc:
            raise translate_zhipu_error(exc, False) from exc

    def upload(self, filename: str, data: bytes) -> str:
        found = self._call(lambda: _client(self.conn).files.create(
            file=(filename, data, "application/octet-stream"), purpose="fine-tune"))
        file_id = getattr(found, "id", None)
        if not file_id:
            raise PlaygroundError(ErrorKind.SERVER_ERROR, detail="the upload returned no file id")
        return str(file_id)

    def create_job(self, request: JobRequest) -> Job:
        extra: dict[str, Any] = {}
        if request.validation_file:
            extra["validation_file"] = request.validation_file
        if request.suffix:
            extra["suffix"] = request.suffix
        return job_from_sdk(self._call(lambda: _client(self.conn).fine_tuning.jobs.create(
            model=request.model, training_file=request.training_file,
            hyperparameters=request.hyperparameters.to_api(), **extra)))

    def retrieve(self, job_id: str) -> Job:
        return job_from_sdk(self._call(lambda: _client(self.conn).fine_tuning.jobs.retrieve(job_id)))

    def events(self, job_id: str, limit: int = 50) -> list[JobEvent]:
        found = self._call(lambda: _client(self.conn).fine_tuning.jobs.list_events(job_id, limit=limit))
        return [event_from_sdk(e) for e in getattr(found, "data", None) or []]

    def cancel(self, job_id: str) -> Job:
        return job_from_sdk(self._call(lambda: _client(self.conn).fine_tuning.jobs.cancel(job_id)))

    def list_jobs(self, limit: int = 20) -> list[Job]:
        found = self._call(lambda: _client(self.conn).fine_tuning.jobs.list(limit=limit))
        return [job_from_sdk(j) for j in getattr(found, "data", None) or []]

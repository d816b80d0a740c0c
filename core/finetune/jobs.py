"""The fine-tune job flow: upload the exported files, create the job, watch it, cancel it.

The provider is reached through a `FineTuneService` (backends/zhipu_finetune.py for Zhipu). The
jobs started here are remembered in `<data dir>/finetune/jobs.json` with their dataset and
settings, and a job that succeeds has its model registered for the chat page's model list.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from core.atomic_file import write_text_atomic
from core.errors import ErrorKind, PlaygroundError
from core.finetune.export import ExportResult
from core.finetune.model_registry import FOLDER, FineTunedModel, register_model

JOBS_FILE = "jobs.json"
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
AUTO = "auto"
MAX_EPOCHS = 50
MAX_BATCH = 256
MAX_LR_MULTIPLIER = 10.0
MAX_SUFFIX = 40
_SUFFIX = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Hyperparameters:
    """What the job is told; "auto" lets the provider choose."""

    n_epochs: int | str = AUTO
    batch_size: int | str = AUTO
    learning_rate_multiplier: float | str = AUTO

    def to_api(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobRequest:
    model: str
    training_file: str
    validation_file: str | None = None
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    suffix: str | None = None


@dataclass
class Job:
    """A provider's job, as its API reports it."""

    id: str
    status: str
    model: str = ""
    fine_tuned_model: str | None = None
    created_at: int | None = None
    finished_at: int | None = None
    trained_tokens: int | None = None
    training_file: str = ""
    validation_file: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class JobEvent:
    id: str
    created_at: int | None
    level: str
    message: str
    metrics: dict[str, Any] = field(default_factory=dict)


class FineTuneService(Protocol):
    """What a provider's fine-tuning API offers the page."""

    def upload(self, filename: str, data: bytes) -> str:
        """Upload a JSONL file for fine-tuning; returns its file id."""

    def create_job(self, request: JobRequest) -> Job: ...

    def retrieve(self, job_id: str) -> Job: ...

    def events(self, job_id: str, limit: int = 50) -> list[JobEvent]:
        """The job's events, newest first."""

    def cancel(self, job_id: str) -> Job: ...


def _invalid(key: str, **values: Any) -> PlaygroundError:
    return PlaygroundError(ErrorKind.VALIDATION, params={"key": key, **values})


def check_hyperparameters(epochs: Any, batch_size: Any, lr_multiplier: Any) -> Hyperparameters:
    """The settings as the API takes them; 0 or empty means "auto". Refuses what is out of range."""

    def whole(value: Any, most: int, key: str) -> int | str:
        if value in (None, "", 0, AUTO):
            return AUTO
        if isinstance(value, bool) or not float(value).is_integer() or not 1 <= int(value) <= most:
            raise _invalid(key, most=most, value=value)
        return int(value)

    try:
        epochs_value = whole(epochs, MAX_EPOCHS, "finetune.train.bad_epochs")
        batch_value = whole(batch_size, MAX_BATCH, "finetune.train.bad_batch")
        if lr_multiplier in (None, "", 0, AUTO):
            lr: float | str = AUTO
        else:
            lr = float(lr_multiplier)
            if not 0 < lr <= MAX_LR_MULTIPLIER:
                raise _invalid("finetune.train.bad_lr", most=MAX_LR_MULTIPLIER, value=lr_multiplier)
    except (TypeError, ValueError) as err:
        raise _invalid("finetune.train.not_a_number") from err
    return Hyperparameters(epochs_value, batch_value, lr)


def check_suffix(suffix: str | None) -> str | None:
    """A model-name suffix: letters, digits, - and _, at most MAX_SUFFIX; empty means none."""
    text = (suffix or "").strip()
    if not text:
        return None
    if len(text) > MAX_SUFFIX or not _SUFFIX.match(text):
        raise _invalid("finetune.train.bad_suffix", most=MAX_SUFFIX)
    return text


@dataclass
class JobRecord:
    """A job started from the playground, with what it was started from."""

    job_id: str
    model: str
    dataset_id: str
    dataset_name: str
    started_at: str
    hyperparameters: dict[str, Any]
    suffix: str | None = None
    train_examples: int = 0
    validation_examples: int = 0
    training_file: str = ""
    validation_file: str | None = None
    status: str = ""
    fine_tuned_model: str | None = None
    error_message: str | None = None


class JobStore:
    """`<data dir>/finetune/jobs.json`: the jobs started here, newest first."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / FOLDER / JOBS_FILE

    def load(self) -> list[JobRecord]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        out = []
        fields = JobRecord.__dataclass_fields__
        for item in data if isinstance(data, list) else []:
            try:
                out.append(JobRecord(**{k: v for k, v in item.items() if k in fields}))
            except (TypeError, AttributeError):
                continue
        return out

    def get(self, job_id: str) -> JobRecord | None:
        return next((r for r in self.load() if r.job_id == job_id), None)

    def save(self, record: JobRecord) -> None:
        records = self.load()
        for i, known in enumerate(records):
            if known.job_id == record.job_id:
                records[i] = record
                break
        else:
            records.insert(0, record)
        text = json.dumps([asdict(r) for r in records], ensure_ascii=False, indent=1) + "\n"
        write_text_atomic(self.path, text)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def start_job(service: FineTuneService, store: JobStore, exported: ExportResult, model: str,
              hyperparameters: Hyperparameters, suffix: str | None, dataset_id: str,
              dataset_name: str) -> JobRecord:
    """Upload the train (and validation) file, create the job and remember it."""
    short = dataset_id[:8]
    training_file = service.upload(f"train-{short}.jsonl", exported.train)
    validation_file = None
    if exported.validation:
        validation_file = service.upload(f"validation-{short}.jsonl", exported.validation)
    job = service.create_job(JobRequest(model, training_file, validation_file, hyperparameters, suffix))
    record = JobRecord(job.id, model, dataset_id, dataset_name, _now(), hyperparameters.to_api(), suffix,
                       exported.train_count, exported.validation_count, training_file, validation_file,
                       job.status, job.fine_tuned_model, job.error_message)
    store.save(record)
    return record


def refresh_job(service: FineTuneService, store: JobStore, job_id: str,
                events: int = 50) -> tuple[Job, list[JobEvent], FineTunedModel | None]:
    """The job's state and events; a finished model is registered for the chat page.

    Returns the model when it was registered by this call (None otherwise).
    """
    job = service.retrieve(job_id)
    found = service.events(job_id, events)
    record = store.get(job_id)
    if record is not None:
        record.status, record.fine_tuned_model = job.status, job.fine_tuned_model
        record.error_message = job.error_message
        store.save(record)
    registered = None
    if job.status == "succeeded" and job.fine_tuned_model:
        model = FineTunedModel(job.fine_tuned_model, job.model, job.id,
                               record.dataset_name if record else "", _now())
        if register_model(store.data_dir, model):
            registered = model
    return job, found, registered


def cancel_job(service: FineTuneService, store: JobStore, job_id: str) -> Job:
    job = service.cancel(job_id)
    record = store.get(job_id)
    if record is not None:
        record.status = job.status
        store.save(record)
    return job

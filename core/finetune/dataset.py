"""Datasets of fine-tune examples, kept under `<data dir>/datasets/<id>/`, written atomically.

An example is one line of the JSONL file the provider trains on: usually `{"messages": [...]}`.
It is kept as the JSON value it is, even when it is not well-formed, so that an imported line
with a mistake can be fixed in the editor instead of being dropped. Each dataset is a folder
named by an id we make (never by its name, which may be Chinese or anything else):
`meta.json` (name, dates, count, page settings) and `examples.jsonl` (one record per line).

In a team deployment a dataset has an owner (the signed-in user who made it) and may be shared
with the team. A store opened for a viewer lists and opens only what that viewer may see: their
own, the shared ones, and those made before sign-in existed (no owner: the whole team's). Only the
owner renames, deletes or (un)shares one. A store without a viewer (no sign-in) sees everything.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.atomic_file import write_text_atomic
from core.errors import ErrorKind, PlaygroundError
from core.ownership import can_manage, ownership, visible

DATASETS_DIR = "datasets"
META_FILE = "meta.json"
EXAMPLES_FILE = "examples.jsonl"
MAX_NAME = 80
ROLES: tuple[str, ...] = ("system", "user", "assistant")
_ID = re.compile(r"^[0-9a-f]{32}$")


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def valid_dataset_id(dataset_id: str | None) -> bool:
    """Only ids we make are accepted: nothing from a URL or a form can name another path."""
    return bool(dataset_id and _ID.match(dataset_id))


@dataclass
class Example:
    """One training example: the JSON value of its line, and an id for the editor's widgets."""

    record: Any
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @classmethod
    def from_messages(cls, messages: Iterable[dict[str, Any]]) -> Example:
        return cls({"messages": [dict(m) for m in messages]})

    @classmethod
    def single_turn(cls, user: str, assistant: str, system: str = "") -> Example:
        messages = [{"role": "system", "content": system}] if system.strip() else []
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        return cls.from_messages(messages)

    @property
    def messages(self) -> list[Any] | None:
        """The messages list when the record has one, else None (the editor then shows raw JSON)."""
        if isinstance(self.record, dict) and isinstance(self.record.get("messages"), list):
            return self.record["messages"]
        return None

    def editable(self) -> bool:
        """True when every message is an object the message editor can show."""
        messages = self.messages
        return messages is not None and all(isinstance(m, dict) for m in messages)

    def single_turn_parts(self) -> tuple[str, str, str] | None:
        """(system, user, assistant) when this is one question and its answer, else None."""
        messages = self.messages
        if messages is None or not all(isinstance(m, dict) for m in messages):
            return None
        roles = [m.get("role") for m in messages]
        if roles not in (["user", "assistant"], ["system", "user", "assistant"]):
            return None
        if any(not isinstance(m.get("content"), str) or set(m) - {"role", "content"} for m in messages):
            return None
        system = messages[0]["content"] if roles[0] == "system" else ""
        return system, messages[-2]["content"], messages[-1]["content"]

    # ---- message edits (the multi-turn editor) --------------------------------------------
    def _editable_messages(self) -> list[dict[str, Any]]:
        if not self.editable():
            raise ValueError("this example has no editable messages list")
        return self.record["messages"]  # type: ignore[no-any-return]

    def add_message(self, role: str, content: str = "") -> None:
        self._editable_messages().append({"role": role, "content": content})

    def set_message(self, index: int, role: str | None = None, content: str | None = None) -> None:
        message = self._editable_messages()[index]
        if role is not None:
            message["role"] = role
        if content is not None:
            message["content"] = content

    def delete_message(self, index: int) -> None:
        del self._editable_messages()[index]

    def move_message(self, index: int, offset: int) -> None:
        """Move a message up (-1) or down (+1); at either end nothing happens."""
        messages = self._editable_messages()
        target = index + offset
        if 0 <= index < len(messages) and 0 <= target < len(messages):
            messages[index], messages[target] = messages[target], messages[index]

    def next_role(self) -> str:
        """The role a new message most likely has: the other one of user / assistant."""
        messages = self.messages or []
        last = messages[-1].get("role") if messages and isinstance(messages[-1], dict) else None
        return "assistant" if last == "user" else "user"

    def strip_unknown_keys(self) -> bool:
        """Drop keys the format does not have (besides `messages`, `role`, `content`); True if any."""
        record = self.record
        if not isinstance(record, dict):
            return False
        extra = [k for k in record if k != "messages"]
        for key in extra:
            del record[key]
        changed = bool(extra)
        for message in record.get("messages") if isinstance(record.get("messages"), list) else []:
            if isinstance(message, dict):
                for key in [k for k in message if k not in ("role", "content")]:
                    del message[key]
                    changed = True
        return changed

    def to_line(self) -> str:
        """The example as one JSONL line, Chinese kept readable."""
        return json.dumps(self.record, ensure_ascii=False)


@dataclass
class DatasetInfo:
    """What the dataset list shows without reading the examples."""

    id: str
    name: str
    count: int
    created_at: str
    updated_at: str
    owner: str = ""  # "" when made without sign-in
    shared: bool = False


@dataclass
class Dataset:
    """A named list of examples, with the page's settings for it (base model, split, epochs)."""

    name: str
    examples: list[Example] = field(default_factory=list)
    id: str = field(default_factory=_new_id)
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    settings: dict[str, Any] = field(default_factory=dict)
    owner: str = ""  # the user who made it; "" without sign-in
    shared: bool = False  # shared with the team

    def info(self) -> DatasetInfo:
        return DatasetInfo(self.id, self.name, len(self.examples), self.created_at, self.updated_at,
                           self.owner, self.shared)

    def index_of(self, example_id: str) -> int:
        for i, example in enumerate(self.examples):
            if example.id == example_id:
                return i
        raise KeyError(example_id)

    def find(self, example_id: str) -> Example | None:
        return next((e for e in self.examples if e.id == example_id), None)

    def delete(self, example_id: str) -> None:
        del self.examples[self.index_of(example_id)]

    def records(self) -> list[Any]:
        return [e.record for e in self.examples]


def _name_error(key: str, **values: Any) -> PlaygroundError:
    return PlaygroundError(ErrorKind.VALIDATION, params={"key": key, **values})


def clean_name(name: str | None) -> str:
    """A dataset name as kept: trimmed, one line; refused when empty or too long."""
    text = " ".join((name or "").split())
    if not text:
        raise _name_error("finetune.dataset.name_empty")
    if len(text) > MAX_NAME:
        raise _name_error("finetune.dataset.name_too_long", limit=MAX_NAME)
    return text


def _meta(dataset: Dataset) -> str:
    meta = {"name": dataset.name, "created_at": dataset.created_at, "updated_at": dataset.updated_at,
            "count": len(dataset.examples), "settings": dataset.settings, "owner": dataset.owner,
            "shared": dataset.shared}
    return json.dumps(meta, ensure_ascii=False, indent=1) + "\n"


class DatasetStore:
    """The datasets of one data directory. Every write replaces whole files atomically.

    `viewer`: the signed-in user the store is opened for (None without sign-in: sees everything).
    """

    def __init__(self, data_dir: Path, viewer: str | None = None) -> None:
        self.root = Path(data_dir) / DATASETS_DIR
        self.viewer = viewer

    def visible(self, owner: str, shared: bool) -> bool:
        return visible(self.viewer, owner, shared)

    def can_manage(self, owner: str) -> bool:
        """Rename, delete, share: the owner's (anyone's for a dataset without an owner)."""
        return can_manage(self.viewer, owner)

    def _folder(self, dataset_id: str) -> Path:
        if not valid_dataset_id(dataset_id):
            raise ValueError("invalid dataset id")
        return self.root / dataset_id

    # ---- listing ------------------------------------------------------------------------------
    def list_datasets(self) -> list[DatasetInfo]:
        """Every readable dataset, most recently changed first."""
        found: list[DatasetInfo] = []
        if not self.root.is_dir():
            return found
        for folder in self.root.iterdir():
            if not valid_dataset_id(folder.name):
                continue
            meta = self._read_meta(folder.name)
            if meta is not None and self.visible(*ownership(meta)):
                found.append(DatasetInfo(folder.name, str(meta.get("name") or folder.name),
                                         int(meta.get("count") or 0), str(meta.get("created_at") or ""),
                                         str(meta.get("updated_at") or ""), *ownership(meta)))
        return sorted(found, key=lambda d: (d.updated_at, d.name), reverse=True)

    def names(self) -> set[str]:
        return {d.name.casefold() for d in self.list_datasets()}

    def _read_meta(self, dataset_id: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self._folder(dataset_id) / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    # ---- reading and writing ------------------------------------------------------------------
    def load(self, dataset_id: str) -> Dataset | None:
        """The dataset, or None when it does not exist or its files cannot be read."""
        if not valid_dataset_id(dataset_id):
            return None
        meta = self._read_meta(dataset_id)
        if meta is None or not self.visible(*ownership(meta)):
            return None
        examples: list[Example] = []
        path = self._folder(dataset_id) / EXAMPLES_FILE
        try:
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        examples.append(Example(json.loads(line)))
        except FileNotFoundError:
            pass
        except (OSError, ValueError):
            return None
        settings = meta.get("settings")
        return Dataset(name=str(meta.get("name") or dataset_id), examples=examples, id=dataset_id,
                       created_at=str(meta.get("created_at") or ""),
                       updated_at=str(meta.get("updated_at") or ""),
                       settings=settings if isinstance(settings, dict) else {}, owner=ownership(meta)[0],
                       shared=ownership(meta)[1])

    def save(self, dataset: Dataset) -> None:
        """Write the examples, then the meta data, each atomically. Raises OSError."""
        folder = self._folder(dataset.id)
        dataset.updated_at = _now()
        lines = "".join(example.to_line() + "\n" for example in dataset.examples)
        write_text_atomic(folder / EXAMPLES_FILE, lines)
        write_text_atomic(folder / META_FILE, _meta(dataset))

    def save_settings(self, dataset: Dataset) -> None:
        """Write only the meta data (a changed setting must not rewrite a large examples file)."""
        folder = self._folder(dataset.id)
        if not (folder / EXAMPLES_FILE).exists():
            self.save(dataset)
            return
        write_text_atomic(folder / META_FILE, _meta(dataset))

    # ---- create, rename, duplicate, delete ----------------------------------------------------
    def _unique(self, name: str, except_id: str | None = None) -> str:
        name = clean_name(name)
        taken = {d.name.casefold() for d in self.list_datasets() if d.id != except_id}
        if name.casefold() in taken:
            raise _name_error("finetune.dataset.name_taken", name=name)
        return name

    def create(self, name: str, examples: Iterable[Example] = ()) -> Dataset:
        dataset = Dataset(name=self._unique(name), examples=list(examples), owner=self.viewer or "")
        self.save(dataset)
        return dataset

    def rename(self, dataset_id: str, name: str) -> Dataset:
        dataset = self._require(dataset_id, manage=True)
        dataset.name = self._unique(name, except_id=dataset_id)
        self.save_settings(dataset)
        return dataset

    def duplicate(self, dataset_id: str, name: str) -> Dataset:
        source = self._require(dataset_id)
        copy = Dataset(name=self._unique(name), settings=json.loads(json.dumps(source.settings)),
                       examples=[Example(json.loads(e.to_line())) for e in source.examples],
                       owner=self.viewer or "")  # a copy is the copier's own, not shared
        self.save(copy)
        return copy

    def set_shared(self, dataset_id: str, shared: bool) -> Dataset:
        """Share a dataset with the team, or stop sharing it (its owner only)."""
        dataset = self._require(dataset_id, manage=True)
        dataset.shared = bool(shared)
        self.save_settings(dataset)
        return dataset

    def delete(self, dataset_id: str) -> None:
        folder = self._folder(dataset_id)
        meta = self._read_meta(dataset_id)
        if meta is not None and self.viewer is not None:
            self._check_manage(*ownership(meta))
        for name in (EXAMPLES_FILE, META_FILE):
            (folder / name).unlink(missing_ok=True)
        for leftover in folder.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:
            pass

    def _require(self, dataset_id: str, manage: bool = False) -> Dataset:
        dataset = self.load(dataset_id)
        if dataset is None:
            raise _name_error("finetune.dataset.missing")
        if manage:
            self._check_manage(dataset.owner, dataset.shared)
        return dataset

    def _check_manage(self, owner: str, shared: bool) -> None:
        if not self.visible(owner, shared):
            raise _name_error("finetune.dataset.missing")
        if not self.can_manage(owner):
            raise _name_error("access.dataset.not_owner", owner=owner)

    def copy_name(self, name: str, suffix: str) -> str:
        """A free name for a copy: 'name suffix', 'name suffix 2', ..."""
        taken = self.names()
        base = f"{name} {suffix}".strip()[:MAX_NAME]
        candidate, n = base, 2
        while candidate.casefold() in taken:
            candidate = f"{base} {n}"
            n += 1
        return candidate

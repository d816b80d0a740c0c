"""Presets: a whole setup (backend, endpoint, model, parameters, system prompt, messages) by name.

Saved as one JSON file each under `<data_dir>/presets/` (written atomically), exported and imported
as JSON, and shared in a URL query parameter when small enough (zlib + base64url). Never a key.
Everything read from outside (a file, an import, a URL) is checked; a bad one raises
PlaygroundError(VALIDATION) whose `key` names what is wrong and how to fix it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.atomic_file import write_text_atomic
from core.errors import ErrorKind, PlaygroundError

FORMAT = "glm-playground-preset"
VERSION = 1
URL_PARAM = "preset"
URL_LIMIT = 1800  # characters of the encoded preset: whole URLs past ~2,000 break in chat apps
MAX_IMPORT_BYTES = 1_000_000
ROLES = ("user", "assistant")
NAME_LIMIT = 80


@dataclass
class TargetSetup:
    """One compare target: where it goes and its own parameters (None: the shared ones)."""

    backend: str
    endpoint: str = ""
    model: str = ""
    base_url: str = ""
    params: dict[str, Any] | None = None


@dataclass
class Preset:
    """A named setup. `targets` is the compare page's columns (empty for a chat preset)."""

    name: str
    backend: str
    endpoint: str = ""
    model: str = ""
    base_url: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    system: str = ""
    messages: list[dict[str, str]] = field(default_factory=list)
    targets: list[TargetSetup] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {"format": FORMAT, "version": VERSION, **asdict(self)}
        if not self.targets:
            data.pop("targets")
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)


def invalid(key: str, **params: Any) -> PlaygroundError:
    return PlaygroundError(ErrorKind.VALIDATION, detail=key, params={"key": f"preset.error.{key}", **params})


# ---- checking what comes from outside ----------------------------------------------------------
def _text(data: dict[str, Any], name: str, default: str = "") -> str:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise invalid("wrong_type", field=name, expected="text", got=_type_name(value))
    return value


def _type_name(value: Any) -> str:
    return {bool: "true/false", int: "number", float: "number", str: "text", list: "list",
            dict: "object"}.get(type(value), type(value).__name__)


def _param_value(name: str, value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and name == "stop":
        return [value] if value else []
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise invalid("bad_param", field=f"{where}.{name}", got=str(value))
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, dict) and name == "response_format" and isinstance(value.get("type"), str):
        return value
    raise invalid("bad_param", field=f"{where}.{name}", got=_type_name(value))


def _params(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("wrong_type", field=where, expected="object", got=_type_name(value))
    return {str(k): _param_value(str(k), v, where) for k, v in value.items()}


def _backend(data: dict[str, Any], where: str, backends: dict[str, tuple[str, ...]]) -> tuple[str, str]:
    backend = _text(data, "backend")
    if not backend:
        raise invalid("no_backend", field=f"{where}backend", known=", ".join(backends))
    if backend not in backends:
        raise invalid("unknown_backend", backend=backend, known=", ".join(backends))
    endpoint = _text(data, "endpoint")
    if endpoint and endpoint not in backends[backend]:
        raise invalid("unknown_endpoint", backend=backend, endpoint=endpoint,
                      known=", ".join(backends[backend]))
    return backend, endpoint


def _messages(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid("wrong_type", field="messages", expected="list", got=_type_name(value))
    out = []
    for i, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise invalid("bad_message", position=i)
        role, content = item.get("role"), item.get("content", "")
        if role not in ROLES:
            raise invalid("bad_role", position=i, got=str(role), known=", ".join(ROLES))
        if not isinstance(content, str):
            raise invalid("wrong_type", field=f"messages[{i}].content", expected="text",
                          got=_type_name(content))
        out.append({"role": role, "content": content})
    return out


def from_dict(data: Any, backends: dict[str, tuple[str, ...]], fallback_name: str = "") -> Preset:
    """A checked preset. `backends` maps each known backend id to its endpoint ids; a preset
    without a name gets `fallback_name`."""
    if not isinstance(data, dict):
        raise invalid("not_object", got=_type_name(data))
    if data.get("format", FORMAT) != FORMAT:
        raise invalid("wrong_format", got=str(data.get("format")))
    version = data.get("version", VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        raise invalid("newer_version", got=str(version), version=VERSION)
    backend, endpoint = _backend(data, "", backends)
    targets_raw = data.get("targets") or []
    if not isinstance(targets_raw, list):
        raise invalid("wrong_type", field="targets", expected="list", got=_type_name(targets_raw))
    targets = []
    for i, item in enumerate(targets_raw, 1):
        if not isinstance(item, dict):
            raise invalid("wrong_type", field=f"targets[{i}]", expected="object", got=_type_name(item))
        t_backend, t_endpoint = _backend(item, f"targets[{i}].", backends)
        own = item.get("params")
        targets.append(TargetSetup(t_backend, t_endpoint, _text(item, "model"), _text(item, "base_url"),
                                   None if own is None else _params(own, f"targets[{i}].params")))
    preset_name = clean_name(_text(data, "name").strip() or fallback_name)
    return Preset(name=preset_name, backend=backend, endpoint=endpoint, model=_text(data, "model"),
                  base_url=_text(data, "base_url"), params=_params(data.get("params"), "params"),
                  system=_text(data, "system"), messages=_messages(data.get("messages")),
                  targets=targets)


def clean_name(name: str) -> str:
    """A preset name as kept: trimmed, one line, not empty, not too long."""
    text = " ".join((name or "").split())
    if not text:
        raise invalid("no_name")
    if len(text) > NAME_LIMIT:
        raise invalid("name_too_long", limit=NAME_LIMIT)
    return text


def import_json(text: str | bytes, backends: dict[str, tuple[str, ...]], fallback_name: str = "") -> Preset:
    """A preset from exported JSON (text or the bytes of an uploaded file)."""
    if isinstance(text, bytes):
        if len(text) > MAX_IMPORT_BYTES:
            raise invalid("too_large", limit=MAX_IMPORT_BYTES // 1000)
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise invalid("not_utf8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise invalid("not_json", line=err.lineno, column=err.colno, reason=err.msg) from None
    return from_dict(data, backends, fallback_name)


# ---- a URL query parameter ----------------------------------------------------------------------
def encode_url(preset: Preset) -> str:
    """The preset as a query parameter value; VALIDATION `too_big_for_url` when it does not fit."""
    raw = json.dumps(preset.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    encoded = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii").rstrip("=")
    if len(encoded) > URL_LIMIT:
        raise invalid("too_big_for_url", size=len(encoded), limit=URL_LIMIT)
    return encoded


def decode_url(value: str, backends: dict[str, tuple[str, ...]]) -> Preset:
    """A preset from a shared link's query parameter."""
    try:
        packed = base64.urlsafe_b64decode(value.strip() + "=" * (-len(value.strip()) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_IMPORT_BYTES)
        if inflater.unconsumed_tail:
            raise invalid("too_large", limit=MAX_IMPORT_BYTES // 1000)
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as err:
        if isinstance(err, PlaygroundError):
            raise
        raise invalid("bad_link") from None
    return from_dict(data, backends)


# ---- the store on disk --------------------------------------------------------------------------
class PresetStore:
    """One JSON file per preset under `<data_dir>/presets/`, named from a hash of the preset name
    (any language, and nothing in a name can point at another path)."""

    def __init__(self, data_dir: Path, backends: dict[str, tuple[str, ...]]) -> None:
        self.root = Path(data_dir) / "presets"
        self.backends = backends

    def _path(self, name: str) -> Path:
        digest = hashlib.sha256(clean_name(name).encode("utf-8")).hexdigest()[:24]
        return self.root / f"{digest}.json"

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def save(self, preset: Preset) -> None:
        """Write atomically; raises OSError when the disk refuses."""
        write_text_atomic(self._path(preset.name), preset.to_json())

    def load(self, name: str) -> Preset:
        """The saved preset; VALIDATION `not_found` or the reason it can no longer be read."""
        path = self._path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise invalid("not_found", name=name) from None
        except OSError as err:
            raise invalid("unreadable", name=name, reason=type(err).__name__) from None
        return import_json(text, self.backends)

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def names(self) -> list[str]:
        """The saved presets' names, sorted; files that cannot be read are skipped."""
        names = []
        for path in sorted(self.root.glob("*.json")) if self.root.exists() else []:
            try:
                name = json.loads(path.read_text(encoding="utf-8")).get("name")
            except (OSError, ValueError, AttributeError):
                continue
            if isinstance(name, str) and name.strip():
                names.append(name)
        return sorted(names, key=str.casefold)

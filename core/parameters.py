"""Typed parameter schemas: one declaration draws the controls, validates and explains a request."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import ErrorKind, PlaygroundError


class ParamKind(StrEnum):
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STOP = "stop"  # a list of stop words, up to `max_items`


@dataclass(frozen=True)
class Adjustment:
    """A value the SDK or server will change before use, said in words (catalogue key + values)."""

    name: str
    requested: Any
    sent: Any
    reason_key: str


# Given (value, all values) return the value actually sent and the reason key, or None if unchanged.
Effective = Callable[[Any, dict[str, Any]], "tuple[Any, str] | None"]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a backend: its type, range, default and help (catalogue keys)."""

    name: str
    kind: ParamKind
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    max_items: int = 4
    optional: bool = False  # an optional parameter is left out of the request when unset (None)
    help_key: str = ""
    effective: Effective | None = None
    # Names of bool parameters that, when False, make this parameter have no effect.
    ignored_unless: str | None = None

    @property
    def label_key(self) -> str:
        return f"param.{self.name}"

    @property
    def help(self) -> str:
        return self.help_key or f"param.{self.name}_help"


@dataclass(frozen=True)
class ParamSchema:
    """The ordered parameters one backend accepts for one model."""

    specs: tuple[ParamSpec, ...] = field(default_factory=tuple)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.specs)

    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def get(self, name: str) -> ParamSpec | None:
        return next((s for s in self.specs if s.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {s.name: s.default for s in self.specs}

    def merge(self, values: dict[str, Any] | None) -> dict[str, Any]:
        """The schema's defaults overlaid by the known names of `values` (unknown names dropped)."""
        merged = self.defaults()
        for name, value in (values or {}).items():
            if name in merged:
                merged[name] = value
        return merged

    def validate(self, values: dict[str, Any]) -> dict[str, Any]:
        """Check every value against its range; return the cleaned values or raise VALIDATION."""
        cleaned: dict[str, Any] = {}
        for spec in self.specs:
            value = values.get(spec.name, spec.default)
            cleaned[spec.name] = _check(spec, value)
        return cleaned

    def adjustments(self, values: dict[str, Any]) -> list[Adjustment]:
        """What will actually be sent where it differs from what the user set."""
        out: list[Adjustment] = []
        for spec in self.specs:
            if spec.effective is None or spec.name not in values:
                continue
            try:
                changed = spec.effective(values[spec.name], values)
            except TypeError:  # not a number yet (unset or mistyped): validate() will say so
                continue
            if changed is not None:
                sent, reason = changed
                out.append(Adjustment(spec.name, values[spec.name], sent, reason))
        return out

    def to_request(self, values: dict[str, Any]) -> dict[str, Any]:
        """Validated values ready to send: optional unset ones and empty stop lists left out."""
        cleaned = self.validate(values)
        out: dict[str, Any] = {}
        for spec in self.specs:
            value = cleaned[spec.name]
            if value is None or (spec.kind is ParamKind.STOP and not value):
                continue
            out[spec.name] = value
        return out


def _invalid(spec: ParamSpec, key: str, **params: Any) -> PlaygroundError:
    return PlaygroundError(ErrorKind.VALIDATION, detail=f"{spec.name}: {key}",
                           params={"key": key, "param": spec.name, **params})


def _check(spec: ParamSpec, value: Any) -> Any:
    if value is None and spec.kind is ParamKind.STOP:
        return []
    if value is None:
        if spec.optional:
            return None
        raise _invalid(spec, "validation.param_missing")
    if spec.kind is ParamKind.BOOL:
        if not isinstance(value, bool):
            raise _invalid(spec, "validation.param_not_bool")
        return value
    if spec.kind is ParamKind.STOP:
        return _check_stop(spec, value)
    try:
        if isinstance(value, bool):
            raise TypeError("a switch value is not a number")
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(spec, "validation.param_not_number", value=value) from None
    if not math.isfinite(number):  # NaN passes every comparison; inf breaks int()
        raise _invalid(spec, "validation.param_not_number", value=value)
    if spec.kind is ParamKind.INT:
        if number != int(number):
            raise _invalid(spec, "validation.param_not_integer", value=value)
        number = int(number)
    lo, hi = spec.minimum, spec.maximum
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise _invalid(spec, "validation.param_range", value=value, minimum=lo, maximum=hi)
    return number


def _check_stop(spec: ParamSpec, value: Any) -> list[str]:
    if not isinstance(value, str | list | tuple):
        raise _invalid(spec, "validation.generic", value=value)
    words = [value] if isinstance(value, str) else list(value)
    words = [w for w in words if isinstance(w, str) and w != ""]
    if len(words) > spec.max_items:
        raise _invalid(spec, "validation.stop_too_many", count=len(words), maximum=spec.max_items)
    return words


def parse_stop_words(text: str) -> list[str]:
    """Stop words as typed in one box: one per line; `\\n` written literally means a newline."""
    return [line.replace("\\n", "\n") for line in text.splitlines() if line.strip() != ""]

"""Retrieval problems in the common error vocabulary: a catalogue key that says what to do."""

from __future__ import annotations

from typing import Any

from core.errors import ErrorKind, PlaygroundError


def retrieval_error(key: str, detail: str = "", **params: Any) -> PlaygroundError:
    """A problem found before any model call (a file, a setting, the store): `key` names the fix.

    `key` is a catalogue key under `retrieval.error.`; `params` fill its `{fields}`; `detail` keeps
    a library's own words for the details fold.
    """
    return PlaygroundError(ErrorKind.VALIDATION, detail=detail[:500], params={"key": key, **params})


def error_key(err: PlaygroundError) -> str | None:
    """The catalogue key of a retrieval problem (None for any other error)."""
    key = err.params.get("key") if err.kind is ErrorKind.VALIDATION else None
    return str(key) if key else None

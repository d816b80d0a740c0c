"""The translation catalogue: every user-facing string, in Chinese and English, looked up by key."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

LANGUAGES: tuple[str, ...] = ("zh", "en")
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
LOCALES_DIR = Path(__file__).parent / "locales"


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, dict[str, str]]) -> None:
    """`[chat] run = {en = "...", zh = "..."}` becomes key `chat.run`; tables nest freely."""
    for name, value in table.items():
        key = f"{prefix}.{name}" if prefix else name
        if not isinstance(value, dict):
            raise ValueError(f"catalogue entry {key} must be a table of languages")
        texts = {lang: value[lang] for lang in LANGUAGES if isinstance(value.get(lang), str)}
        if texts:
            if key in out:
                raise ValueError(f"catalogue key defined twice: {key}")
            out[key] = texts
        _flatten(key, {k: v for k, v in value.items() if k not in LANGUAGES}, out)


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    """All entries from `locales/*.toml` (one catalogue split by area), key -> {language: text}."""
    out: dict[str, dict[str, str]] = {}
    for path in sorted(LOCALES_DIR.glob("*.toml")):
        with path.open("rb") as fh:
            _flatten("", tomllib.load(fh), out)
    return out


def language_for_locale(locale: str | None) -> str:
    """The UI language for a browser locale such as 'zh-CN' or 'en-US' (Chinese by default)."""
    if locale and locale.lower().startswith("en"):
        return "en"
    if locale and not locale.lower().startswith("zh"):
        return "en"  # a browser in neither language reads English more often than Chinese
    return "zh"


def t(key: str, lang: str, **values: Any) -> str:
    """The text for `key` in `lang`, with `{name}` fields filled; the key itself if missing."""
    entry = catalogue().get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry.get("en") or key
    if values:
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def has(key: str) -> bool:
    return key in catalogue()

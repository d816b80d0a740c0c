"""Settings from the environment and `.streamlit/secrets.toml`: backend, model, keys, base URLs."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Which Zhipu, DashScope or OpenAI endpoint a base URL means (the "three variables" migration).
URL_ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("open.bigmodel.cn", "zhipu_compat"),
    ("dashscope.aliyuncs.com", "dashscope"),
    ("api.openai.com", "openai"),
)


LOCAL_MODEL_ENV = "PLAYGROUND_LOCAL_MODEL"


@dataclass(frozen=True)
class Settings:
    """Where settings come from. Secrets is a plain mapping so core never imports Streamlit."""

    env: Mapping[str, str]
    secrets: Mapping[str, Any]

    @classmethod
    def load(cls, secrets: Mapping[str, Any] | None = None) -> Settings:
        return cls(env=dict(os.environ), secrets=dict(secrets or {}))

    def get(self, name: str) -> str | None:
        """An environment variable wins over the same key in secrets; empty (or blank) is unset."""
        for source in (self.env, self.secrets):
            value = source.get(name)
            text = str(value).strip() if value is not None else ""
            if text:
                return text
        return None

    def key_for(self, names: tuple[str, ...]) -> tuple[str | None, str | None]:
        """(key, the variable it came from) for the first of `names` that is set."""
        for name in names:
            value = self.get(name)
            if value:
                return value, name
        return None, None

    @property
    def backend(self) -> str | None:
        return self.get("PLAYGROUND_BACKEND")

    @property
    def model(self) -> str | None:
        return self.get("PLAYGROUND_MODEL")

    @property
    def local_model(self) -> str | None:
        """The model the local backend starts with: a folder on this server or a Hugging Face id."""
        return self.get(LOCAL_MODEL_ENV)

    @property
    def timeout_s(self) -> float:
        try:
            value = float(self.get("PLAYGROUND_TIMEOUT_S") or 120)
        except ValueError:
            return 120.0
        return max(1.0, value) if math.isfinite(value) else 120.0

    @property
    def data_dir(self) -> Path:
        return Path(self.get("PLAYGROUND_DATA_DIR") or Path.cwd() / "data")


def endpoint_for_url(url: str | None) -> str | None:
    """The preset a base URL belongs to, or None for a custom URL."""
    if not url or not url.strip():
        return None
    url = url.strip()
    hostname = (urlsplit(url if "://" in url else "//" + url).hostname or "").lower()
    for host, endpoint_id in URL_ENDPOINTS:
        if hostname == host or hostname.endswith("." + host):
            return endpoint_id
    return "custom"


def mask_key(key: str | None) -> str:
    """A key as it may be shown: its last four characters only."""
    if not key:
        return ""
    return "…" + key[-4:] if len(key) > 8 else "…"

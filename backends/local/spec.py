"""What to load and how: a folder or Hugging Face id, the device, the dtype, the remote-code opt-in.

Plain data, no torch: the sidebar and the registry import it on every page load.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from backends.base import Connection

DEVICES: tuple[str, ...] = ("auto", "cuda", "cpu")
DTYPES: tuple[str, ...] = ("auto", "bfloat16", "float16", "float32")


@dataclass(frozen=True)
class LoadSpec:
    """One way of loading one model. `device` and `dtype` may say "auto" until resolved."""

    model: str  # a folder on this server or a Hugging Face id, as the user typed it
    device: str = "auto"
    dtype: str = "auto"
    remote_code: bool = False  # the user allowed the model's own Python code to run

    def describe(self) -> str:
        code = ", remote code" if self.remote_code else ""
        return f"{self.model} ({self.device}, {self.dtype}{code})"


@dataclass(frozen=True)
class LocalConnection(Connection):
    """How to reach an in-process model for one call: which device, which dtype, remote code or not.

    `timeout_s` is how long the streamer waits for the next token before giving up.
    """

    device: str = "auto"
    dtype: str = "auto"
    remote_code: bool = False

    def spec(self, model: str) -> LoadSpec:
        return LoadSpec(model=model.strip(), device=self.device, dtype=self.dtype,
                        remote_code=self.remote_code)


def normalize_model(model: str) -> str:
    """A folder as its absolute path (so two spellings load it once); anything else as typed."""
    text = model.strip()
    expanded = os.path.expanduser(text)
    return os.path.abspath(expanded) if text and os.path.isdir(expanded) else text

"""Counts a model's generate() calls in flight, whichever thread runs them (the tests of stop and of
one generation at a time)."""

from __future__ import annotations

import threading
from typing import Any

import pytest


class GenerateWatch:
    def __init__(self, generate: Any) -> None:
        self._generate = generate
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            return self._generate(*args, **kwargs)
        finally:
            with self._lock:
                self.running -= 1


def watch_generate(monkeypatch: pytest.MonkeyPatch, model: Any) -> GenerateWatch:
    """Wrap `model.generate` for one test; undone by monkeypatch afterwards."""
    watch = GenerateWatch(model.generate)
    monkeypatch.setattr(model, "generate", watch)
    return watch

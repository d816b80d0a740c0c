"""Helpers for AppTests of the Usage & cost page: a seeded ledger, and what the page shows."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from core.config import Settings
from core.usage_ledger import Ledger, UsageRow
from tests.apptest_helpers import assert_ok, start

PAGE = "app_pages/usage.py"

# Two days, two models on two backends, one error. Costs by hand from core/data/prices.csv:
# glm-4-plus 5 CNY / 1M tokens in and out; gpt-4o 2.5 USD / 1M in, 10 USD / 1M out.
YESTERDAY = datetime.combine(date.today() - timedelta(days=1), time(0, 0, 1)).astimezone()
TODAY = datetime.combine(date.today(), time(0, 0, 1)).astimezone()
SEED: list[dict[str, Any]] = [
    dict(ts=YESTERDAY, model="glm-4-plus", backend="zhipu", prompt_tokens=1000, completion_tokens=500,
         latency_s=2.0, ttft_s=0.5, cost=0.0075, currency="CNY"),  # 1500 x 5 / 1M
    dict(ts=TODAY, model="glm-4-plus", backend="zhipu", prompt_tokens=2000, completion_tokens=1000,
         latency_s=4.0, ttft_s=1.0, cost=0.015, currency="CNY"),  # 3000 x 5 / 1M
    dict(ts=TODAY + timedelta(seconds=1), model="gpt-4o", backend="openai", prompt_tokens=1000,
         completion_tokens=1000, latency_s=3.0, ttft_s=0.8, cost=0.0125, currency="USD"),
    dict(ts=YESTERDAY + timedelta(seconds=1), model="gpt-4o", backend="openai", prompt_tokens=None,
         completion_tokens=None, latency_s=1.0, ttft_s=None, cost=None, currency=None, outcome="error",
         error_kind="rate_limit", error_code="rate_limit_exceeded"),
]


def usage_row(**values: Any) -> UsageRow:
    base: dict[str, Any] = dict(
        ts=TODAY, session_id="seed", page="chat", backend="zhipu", endpoint="zhipu",
        base_url_host="open.bigmodel.cn", model="glm-4-plus", params={"temperature": 0.7},
        prompt_tokens=10, completion_tokens=10, total_tokens=None, tokens_estimated=False, ttft_s=0.1,
        latency_s=1.0, streamed=True, outcome="ok", error_kind=None, error_code=None, cost=None,
        currency=None)
    base.update(values)
    if base["total_tokens"] is None and base["prompt_tokens"] is not None:
        base["total_tokens"] = base["prompt_tokens"] + base["completion_tokens"]
    if base["backend"] == "openai":
        base.update(endpoint="openai", base_url_host="api.openai.com")
    return UsageRow(**base)


def seed(rows: list[dict[str, Any]] | None = None) -> Ledger:
    """Write rows into the ledger the app will open (the test's PLAYGROUND_DATA_DIR)."""
    ledger = Ledger.open(Settings.load())
    for values in SEED if rows is None else rows:
        assert ledger.record(usage_row(**values))
    ledger.close()
    return ledger


def usage_page(locale: str = "en-US") -> AppTest:
    """The router app, switched to the Usage & cost page."""
    at = start(locale=locale)
    at.switch_page(PAGE).run()
    assert_ok(at)
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def chart(at: AppTest, key: str) -> dict[str, Any]:
    """The plotly spec (JSON the browser draws) of the chart with this key."""
    found = [e for e in at.get("plotly_chart") if e.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, [e.proto.id for e in at.get("plotly_chart")]
    return json.loads(found[0].proto.spec)


def traces(spec: dict[str, Any]) -> dict[str, dict[Any, Any]]:
    """{trace name: {x: y}} of a bar chart."""
    return {tr.get("name"): dict(zip(tr["x"], tr["y"], strict=True)) for tr in spec["data"]}


def utc_day(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d")


class RecordingFiles(MediaFileManager):
    """AppTest's media file manager, keeping the callables of deferred downloads for the test."""

    deferred: ClassVar[dict[str, Callable[[], Any]]] = {}

    def add_deferred(self, data_callable: Callable[[], Any], *args: Any, **kwargs: Any) -> str:
        file_id = super().add_deferred(data_callable, *args, **kwargs)
        RecordingFiles.deferred[file_id] = data_callable
        return file_id


def record_downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[], Any]]:
    """From now on, what deferred download buttons would serve, by file id."""
    RecordingFiles.deferred = {}
    monkeypatch.setattr("streamlit.testing.v1.app_test.MediaFileManager", RecordingFiles)
    return RecordingFiles.deferred


def downloaded(at: AppTest, key: str, files: dict[str, Callable[[], Any]]) -> bytes:
    """The file the download button with this key gives when clicked."""
    data = files[at.download_button(key=key).proto.deferred_file_id]()
    return data.encode("utf-8") if isinstance(data, str) else data

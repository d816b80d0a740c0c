"""Shared fixtures: one fake LLM server on 127.0.0.1 per test session, and a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.fake_llm import FakeLLMServer

# The fake server's own tests share SDK-client fixtures (srv, oc, zc) from this plugin.
pytest_plugins = ["tests.fake_llm_clients"]

# Variables that would point the app at a real provider or a real key: never inherited by tests.
PROVIDER_VARS = (
    "ZHIPUAI_API_KEY", "ZHIPUAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "DASHSCOPE_API_KEY",
    "PLAYGROUND_BACKEND", "PLAYGROUND_MODEL", "PLAYGROUND_TIMEOUT_S", "PLAYGROUND_DB_URL",
)


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def llm(fake_llm: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The shared fake server, with its queue and request log emptied for this test."""
    fake_llm.reset()
    yield fake_llm
    fake_llm.reset()


@pytest.fixture(autouse=True)
def _no_real_provider(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in PROVIDER_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path_factory.mktemp("data")))


@pytest.fixture
def zhipu_env(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> FakeLLMServer:
    """Environment for the app to use the zhipu backend against the fake server."""
    monkeypatch.setenv("ZHIPUAI_BASE_URL", llm.zhipu_base_url)
    monkeypatch.setenv("ZHIPUAI_API_KEY", "test.key")
    monkeypatch.setenv("PLAYGROUND_BACKEND", "zhipu")
    monkeypatch.setenv("PLAYGROUND_TIMEOUT_S", "5")
    return llm


@pytest.fixture
def openai_env(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> FakeLLMServer:
    """Environment for the app to use the openai backend (custom URL) against the fake server."""
    monkeypatch.setenv("OPENAI_BASE_URL", llm.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-0000")
    monkeypatch.setenv("PLAYGROUND_BACKEND", "openai")
    monkeypatch.setenv("PLAYGROUND_MODEL", "fake-gpt")
    monkeypatch.setenv("PLAYGROUND_TIMEOUT_S", "5")
    return llm


def pytest_report_header() -> str:
    return f"fake LLM server on 127.0.0.1; chromium: {os.path.exists('/usr/bin/chromium')}"

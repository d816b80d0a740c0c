"""Helpers for the Compare & migrate tests: the app on the compare page, two targets on the fake server."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import assert_ok, start
from tests.fake_llm import FakeLLMServer

COMPARE_PAGE = "app_pages/compare.py"
STATE_KEY = "compare.state"
ZHIPU_KEY = "test.zhipu.key.0001"
OPENAI_KEY = "sk-test-openai-0002"


def both_env(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> FakeLLMServer:
    """Zhipu (the zhipuai SDK) and OpenAI-compatible (a custom URL) both on the fake server."""
    monkeypatch.setenv("ZHIPUAI_BASE_URL", llm.zhipu_base_url)
    monkeypatch.setenv("ZHIPUAI_API_KEY", ZHIPU_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", llm.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("PLAYGROUND_BACKEND", "zhipu")
    monkeypatch.setenv("PLAYGROUND_TIMEOUT_S", "5")
    return llm


def open_compare(locale: str = "en-US") -> AppTest:
    """The router app, switched to the compare page."""
    at = start(locale)
    at.switch_page(COMPARE_PAGE).run()
    assert_ok(at)
    return at


def state(at: AppTest) -> Any:
    return at.session_state[STATE_KEY]


def ask(at: AppTest, text: str) -> AppTest:
    """Type a message in the compare page's input: it runs on every target."""
    at.chat_input(key="cmp.input").set_value(text).run()
    assert_ok(at)
    return at


def last_results(at: AppTest) -> list[Any]:
    return state(at).rounds[-1].results


def run_python(code: str, env: dict[str, str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """Run generated Python in a fresh interpreter with only `env` (plus PATH) set."""
    full = {"PATH": os.environ.get("PATH", ""), **env}
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                          timeout=timeout_s)


def run_shell(code: str, env: dict[str, str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    full = {"PATH": os.environ.get("PATH", ""), **env}
    return subprocess.run(["bash", "-c", code], env=full, capture_output=True, text=True, timeout=timeout_s)

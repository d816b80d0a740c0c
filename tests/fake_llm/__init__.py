"""Fake OpenAI/Zhipu chat-completions server (real HTTP + SSE, scripted failures) for tests."""

from .scenarios import SCENARIO_NAMES, Scenario
from .server import FakeLLMServer

__all__ = ["SCENARIO_NAMES", "FakeLLMServer", "Scenario"]

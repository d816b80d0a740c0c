"""Fixtures and helpers shared by the fake server's own tests: SDK clients pointed at it."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import zhipuai

from tests.fake_llm import FakeLLMServer

ROOT = Path(__file__).resolve().parents[1]
HELLO = [
    {"role": "system", "content": "You are"},
    {"role": "user", "content": "hello world"},
]


@pytest.fixture(scope="module")
def srv() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server



@pytest.fixture
def oc(srv: FakeLLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.openai_base_url, api_key="test", max_retries=0)


@pytest.fixture
def zc(srv: FakeLLMServer) -> zhipuai.ZhipuAI:
    return zhipuai.ZhipuAI(
        base_url=srv.zhipu_base_url, api_key="test.key", max_retries=0
    )


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def chat(client: Any, text: str | list[dict[str, str]], **kw: Any) -> Any:
    messages = user(text) if isinstance(text, str) else text
    return client.chat.completions.create(model="glm-4-flash", messages=messages, **kw)


def drain(stream: Any, into: list[str]) -> list[Any]:
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        if chunk.choices and chunk.choices[0].delta.content:
            into.append(chunk.choices[0].delta.content)
    return chunks


def http(srv: FakeLLMServer, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        srv.url + path, data=data, method="POST" if data else "GET"
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()



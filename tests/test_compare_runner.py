"""The compare runner on the fake server: targets in parallel, one failing, one without a key, a stop."""

from __future__ import annotations

import time
from typing import Any

from backends.base import Connection
from backends.registry import BACKENDS
from core.chat import ChatRecord, ChatRequest
from core.compare.runner import CompareRun, RunTarget
from core.errors import ErrorKind
from tests.fake_llm import FakeLLMServer


def zhipu(llm: FakeLLMServer, label: str = "A", model: str = "glm-4-plus", key: str | None = "k",
          **values: Any) -> RunTarget:
    backend = BACKENDS["zhipu"]
    return RunTarget(label, backend, backend.endpoint("zhipu"), model,
                     Connection(llm.zhipu_base_url, key, timeout_s=10), values)


def openai(llm: FakeLLMServer, label: str = "B", model: str = "gpt-4o", **values: Any) -> RunTarget:
    backend = BACKENDS["openai"]
    return RunTarget(label, backend, backend.endpoint("custom"), model,
                     Connection(llm.openai_base_url, "sk", timeout_s=10), values)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_every_target_answers_with_timing_tokens_and_cost(llm: FakeLLMServer) -> None:
    prices = {"glm-4-plus": (0.5, "CNY"), "gpt-4o": (0.25, "USD")}
    run = CompareRun([zhipu(llm), openai(llm)], user("hello there"),
                     price=lambda model, p, c: prices.get(model))
    a, b = run.run()
    assert (a.outcome, a.text) == ("ok", "Echo: hello there")
    assert (b.outcome, b.text) == ("ok", "Echo: hello there")
    for result in (a, b):
        assert result.ttft_s is not None and result.latency_s is not None
        assert result.ttft_s <= result.latency_s
        assert result.completion_tokens == 3 and result.prompt_tokens == 6
        assert not result.tokens_estimated
    assert (a.cost, a.currency) == (0.5, "CNY") and (b.cost, b.currency) == (0.25, "USD")
    assert {r["path"] for r in llm.requests} == {"/api/paas/v4/chat/completions", "/v1/chat/completions"}
    assert run.done and run.elapsed_s > 0


def test_one_failing_target_does_not_stop_the_others(llm: FakeLLMServer) -> None:
    targets = [zhipu(llm, "A"), openai(llm, "B"), zhipu(llm, "C", model="glm-4-air")]
    run = CompareRun(targets, user("hi"))
    # The fake server serves queued scenarios in arrival order: one of the three calls breaks.
    llm.queue("ok")
    llm.queue("drop_mid_stream", after=2)
    llm.queue("ok")
    results = run.run()
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == ["error", "ok", "ok"]
    broken = next(r for r in results if r.outcome == "error")
    assert broken.error is not None and broken.error.kind is ErrorKind.STREAM_BROKEN
    assert broken.text  # what arrived before the cut is kept
    for ok in (r for r in results if r.outcome == "ok"):
        assert ok.text.startswith("Echo:")


def test_an_error_status_on_one_target(llm: FakeLLMServer) -> None:
    run = CompareRun([openai(llm, "B"), zhipu(llm, "A")], user("[[scenario:server_500]] x"))
    b, a = run.run()
    assert b.outcome == a.outcome == "error"
    assert b.error is not None and b.error.kind is ErrorKind.SERVER_ERROR
    assert b.completion_tokens is None and b.cost is None  # refused before answering: nothing counted


def test_a_target_without_a_key_fails_at_once_and_the_other_runs(llm: FakeLLMServer) -> None:
    run = CompareRun([zhipu(llm, key=None), openai(llm)], user("hi"))
    a, b = run.run()
    assert a.outcome == "error" and a.error is not None and a.error.kind is ErrorKind.MISSING_KEY
    assert "ZHIPUAI_API_KEY" in a.error.params["envs"]
    assert b.outcome == "ok" and b.text == "Echo: hi"
    assert len(llm.requests) == 1


def test_a_refused_parameter_fails_only_its_target(llm: FakeLLMServer) -> None:
    run = CompareRun([zhipu(llm, top_p=0.0), openai(llm)], user("hi"))  # GLM refuses top_p 0
    a, b = run.run()
    assert a.outcome == "error" and a.error is not None and a.error.kind is ErrorKind.VALIDATION
    assert b.outcome == "ok"


def test_targets_run_in_parallel(llm: FakeLLMServer) -> None:
    text = "[[tokens:20]] [[scenario:ok token_delay=0.02]]"
    started = time.perf_counter()
    results = CompareRun([zhipu(llm, "A"), openai(llm, "B"), zhipu(llm, "C"), openai(llm, "D")],
                         user(text)).run()
    elapsed = time.perf_counter() - started
    assert all(r.outcome == "ok" and r.completion_tokens == 20 for r in results)
    assert elapsed < 4 * 20 * 0.02 * 0.75, elapsed  # one after another would take about 1.6 s


def test_stop_keeps_what_arrived(llm: FakeLLMServer) -> None:
    run = CompareRun([zhipu(llm), openai(llm)], user("[[tokens:200]] [[scenario:ok token_delay=0.02]]"))
    run.start()
    deadline = time.monotonic() + 10
    while not all(r.text for r in run.results) and time.monotonic() < deadline:
        if not run.poll():
            run.wait()
    run.stop()
    assert run.done
    for result in run.results:
        assert result.outcome == "stopped" and result.text.startswith("w0 ")
        assert result.tokens_estimated  # a stopped stream never gets its usage


def test_every_call_goes_to_the_recorder(llm: FakeLLMServer) -> None:
    seen: list[tuple[str, str]] = []

    def recorder_for(target: RunTarget, request: ChatRequest) -> Any:
        def hook(record: ChatRecord) -> None:
            seen.append((target.label, record.outcome))
        return hook

    CompareRun([zhipu(llm), openai(llm, model="x")], user("[[scenario:auth_401]] hi"),
               recorder_for=recorder_for).run()
    assert sorted(seen) == [("A", "error"), ("B", "error")]


def test_extra_parameters_reach_the_sdk_call(llm: FakeLLMServer) -> None:
    target = openai(llm)
    target.extra = {"response_format": {"type": "json_object"}}
    CompareRun([target, zhipu(llm)], user("hi")).run()
    body = next(r["json"] for r in llm.requests if r["path"].startswith("/v1"))
    assert body["response_format"] == {"type": "json_object"}


def test_a_refused_target_sends_nothing_and_the_other_runs(llm: FakeLLMServer) -> None:
    from core.errors import PlaygroundError

    over = zhipu(llm)
    over.refusal = PlaygroundError(ErrorKind.QUOTA, params={"key": "x"})  # e.g. a per-user limit
    a, b = CompareRun([over, openai(llm)], user("hi")).run()
    assert a.outcome == "error" and a.error is over.refusal
    assert b.outcome == "ok"
    assert [r["path"] for r in llm.requests] == ["/v1/chat/completions"]

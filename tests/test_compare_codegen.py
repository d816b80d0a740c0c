"""Generated code: valid Python, keys only as variable names, and, run against the fake server in a
subprocess, the same answer the compare page showed."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from backends.registry import BACKENDS
from core.compare.codegen import CodeRequest, code_request, curl, migration, openai_python, zhipuai_python
from core.compare.translation import SOURCE_SCHEMA, translate
from tests.apptest_helpers import assert_ok
from tests.compare_helpers import (
    OPENAI_KEY,
    ZHIPU_KEY,
    ask,
    both_env,
    last_results,
    open_compare,
    run_python,
    run_shell,
)
from tests.fake_llm import FakeLLMServer

TRICKY = 'Say "hi" \\ it\'s\n你好 {x} $HOME `ls`\nJSON\n\'\'\'end'
MESSAGES = [{"role": "system", "content": "Be brief. 简短回答。"}, {"role": "user", "content": TRICKY}]


def request_for(backend_id: str, endpoint_id: str, model: str, base_url: str = "", stream: bool = False,
                **source: Any) -> CodeRequest:
    backend = BACKENDS[backend_id]
    endpoint = backend.endpoint(endpoint_id)
    tr = translate(SOURCE_SCHEMA.defaults() | source, backend, endpoint, backend.model_info(endpoint, model))
    return code_request(backend, endpoint, base_url, model, MESSAGES, tr.values, tr.extra, stream=stream)


TARGETS = [("zhipu", "zhipu", "glm-4-plus"), ("openai", "zhipu_compat", "glm-4-air"),
           ("openai", "openai", "gpt-4o"), ("openai", "dashscope", "glm-4.5"),
           ("openai", "custom", "my-model")]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("target", TARGETS)
def test_generated_python_compiles(target: tuple[str, str, str], stream: bool) -> None:
    req = request_for(*target, stream=stream, stop=["###"], presence_penalty=0.5, seed=3,
                      response_format={"type": "json_object"})
    code = openai_python(req)
    assert code is not None
    compile(code, "openai_code.py", "exec")
    zhipu_code = zhipuai_python(req)
    if target[0] == "zhipu" or target[1] == "zhipu_compat":
        assert zhipu_code is not None
        compile(zhipu_code, "zhipuai_code.py", "exec")
    else:
        assert zhipu_code is None  # the zhipuai SDK is for Zhipu's platform


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash missing")
def test_curl_is_valid_shell_even_with_a_message_line_reading_json() -> None:
    req = request_for("zhipu", "zhipu", "glm-4-plus")
    command = curl(req)
    assert "JSON" in TRICKY.splitlines()  # a message line that reads like the terminator ...
    assert "\nJSON\n" not in command.split("<<'JSON'\n", 1)[1][:-len("JSON\n")]  # ... is escaped
    assert run_shell(f"bash -n <<'SCRIPT'\n{command}\nSCRIPT", {}).returncode == 0


def test_keys_are_environment_variable_names_never_values() -> None:
    glm = request_for("zhipu", "zhipu", "glm-4-plus")
    assert 'api_key=os.environ["ZHIPUAI_API_KEY"]' in (openai_python(glm) or "")
    assert 'api_key=os.environ["ZHIPUAI_API_KEY"]' in (zhipuai_python(glm) or "")
    assert '-H "Authorization: Bearer $ZHIPUAI_API_KEY"' in curl(glm)
    gpt = request_for("openai", "openai", "gpt-4o")
    assert 'os.environ["OPENAI_API_KEY"]' in (openai_python(gpt) or "")
    custom = request_for("openai", "custom", "m")  # a server that may take no key
    assert 'os.environ.get("OPENAI_API_KEY", "EMPTY")' in (openai_python(custom) or "")


def test_zhipuai_code_names_the_base_url_only_when_not_zhipus_own() -> None:
    assert "base_url" not in (zhipuai_python(request_for("zhipu", "zhipu", "glm-4-plus")) or "")
    other = zhipuai_python(request_for("zhipu", "zhipu", "glm-4-plus", base_url="http://127.0.0.1:9/api/paas/v4"))
    assert 'base_url="http://127.0.0.1:9/api/paas/v4"' in (other or "")


def test_glm_parameters_go_where_each_sdk_takes_them() -> None:
    req = request_for("openai", "zhipu_compat", "glm-4-plus", do_sample=False, temperature=0.5)
    code = openai_python(req) or ""
    assert 'extra_body={"do_sample": False}' in code  # the openai SDK has no do_sample argument
    assert "temperature=" not in code  # greedy: GLM ignores it, the page does not send it
    assert "do_sample=False," in (zhipuai_python(req) or "")


def test_a_stream_only_model_gets_streaming_code() -> None:
    req = request_for("openai", "dashscope", "glm-4.5")
    assert req.stream and "stream=True," in (openai_python(req) or "")


def test_migration_of_default_parameters_changes_exactly_three_lines() -> None:
    gpt = request_for("openai", "openai", "gpt-4o")
    glm = request_for("openai", "zhipu_compat", "glm-4-plus")
    view = migration(gpt, glm, "en")
    assert [c.kind for c in view.changed] == ["key", "base_url", "model"]
    assert view.only_three
    assert 'api_key=os.environ["ZHIPUAI_API_KEY"],  # ← changed: API key' in view.after
    assert 'model="gpt-4o",  # ← changed: model' in view.before
    assert '-    base_url="https://api.openai.com/v1",' in view.diff
    assert '+    base_url="https://open.bigmodel.cn/api/paas/v4/",' in view.diff
    compile(view.after, "glm.py", "exec")  # the marks are comments: the code still runs


def test_migration_names_parameter_lines_the_target_does_not_take() -> None:
    gpt = request_for("openai", "openai", "gpt-4o", presence_penalty=0.6)
    glm = request_for("openai", "zhipu_compat", "glm-4-plus", presence_penalty=0.6)
    view = migration(gpt, glm, "zh")
    assert not view.only_three
    other = [c for c in view.changed if c.kind == "other"]
    assert other[0].before == "    presence_penalty=0.6," and other[0].after is None
    assert "已修改：参数" in view.before


def test_chatglm_api_gets_curl_only() -> None:
    req = request_for("chatglm_http", "chatglm", "chatglm2-6b", base_url="http://127.0.0.1:7030/chatglm")
    assert openai_python(req) is None and zhipuai_python(req) is None
    command = curl(req)
    body = json.loads(command.split("<<'JSON'\n", 1)[1].rsplit("\nJSON", 1)[0])
    assert body["prompt"].endswith(TRICKY) and body["history"] == []  # the system prompt leads
    assert set(body) >= {"temperature", "top_p", "max_length"}
    assert "Authorization" not in command and "'http://127.0.0.1:7030/chatglm'" in command


# ---- the code the page shows, run against the fake server ---------------------------------------
def _page_code(at: Any, model: str, marker: str) -> str:
    """The code block the page shows for `model` that contains `marker` (not the migration view)."""
    found = [c.value for c in at.code
             if f'"{model}"' in c.value and marker in c.value and "# ←" not in c.value]
    assert found, [c.value[:80] for c in at.code]
    return found[0]


def _sent_body(request: dict[str, Any]) -> dict[str, Any]:
    """A request body without what only streaming adds, and without the zhipuai SDK's nulls."""
    body = {k: v for k, v in request["json"].items() if v is not None}
    for name in ("stream", "stream_options"):
        body.pop(name, None)
    return body


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl missing")
def test_page_code_runs_and_gets_the_answer_the_page_shows(llm: FakeLLMServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    both_env(llm, monkeypatch)
    at = open_compare()
    ask(at, 'Quote "this" — 中文 ok')
    glm, gpt = last_results(at)
    assert glm.outcome == gpt.outcome == "ok"
    answer = glm.text
    assert answer == gpt.text == 'Echo: Quote "this" — 中文 ok'
    page_bodies = [_sent_body(r) for r in llm.requests]
    env = {"ZHIPUAI_API_KEY": ZHIPU_KEY, "OPENAI_API_KEY": OPENAI_KEY}
    runs = {
        "zhipu target, openai SDK": run_python(_page_code(at, "glm-4-plus", "from openai"), env),
        "zhipu target, zhipuai SDK": run_python(_page_code(at, "glm-4-plus", "from zhipuai"), env),
        "zhipu target, curl": run_shell(_page_code(at, "glm-4-plus", "curl "), env),
        "gpt target, openai SDK": run_python(_page_code(at, "gpt-4o", "from openai"), env),
        "gpt target, curl": run_shell(_page_code(at, "gpt-4o", "curl "), env),
    }
    for name, done in runs.items():
        assert done.returncode == 0, (name, done.stderr[-2000:])
        out = done.stdout
        if "curl" in name:
            out = json.loads(out)["choices"][0]["message"]["content"]
        assert out.strip() == answer, name
    code_requests = llm.requests[len(page_bodies):]
    assert len(code_requests) == 5
    for request in code_requests:  # the key arrived, read from the environment
        assert request["headers"]["authorization"] in (f"Bearer {ZHIPU_KEY}", f"Bearer {OPENAI_KEY}")
    # The code sends what the page sent (without parameters that ask for nothing).
    glm_page = next(b for b in page_bodies if b["model"] == "glm-4-plus")
    glm_code = _sent_body(code_requests[0])
    assert glm_code["messages"] == glm_page["messages"]
    assert {k: v for k, v in glm_page.items() if k != "do_sample"} == {
        k: v for k, v in glm_code.items() if k not in ("do_sample", "extra_body")}


def test_streaming_code_prints_the_same_answer(llm: FakeLLMServer) -> None:
    req = request_for("openai", "custom", "fake-model", base_url=llm.openai_base_url, stream=True)
    done = run_python(openai_python(req) or "", {"OPENAI_API_KEY": "k"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "Echo: " + TRICKY.strip()
    assert llm.requests[-1]["json"]["stream"] is True


def test_view_code_on_the_chat_page_shows_no_key(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.apptest_helpers import rendered_text, send, start

    both_env(llm, monkeypatch)
    at = start()
    send(at, "hello")
    codes = [c.value for c in at.code]
    assert any('os.environ["ZHIPUAI_API_KEY"]' in c for c in codes)
    (code,) = [c for c in codes if "from openai" in c]
    # The request behind the last answer: the conversation up to the user's message.
    assert '{"role": "user", "content": "hello"},\n    ],' in code and "Echo: hello" not in code
    assert ZHIPU_KEY not in rendered_text(at)
    assert_ok(at)

"""The code for a request: Python with the openai SDK, Python with zhipuai, and curl.

Keys are written as the environment variable that holds them (os.environ["ZHIPUAI_API_KEY"],
$ZHIPUAI_API_KEY), never their value. The request is the one the page sends, as it leaves the
backend and its SDK (core.compare.translation.wire_params), so the code gets the same answer;
parameters that ask for nothing (no penalty, sampling on, no stop word) are left out.
`migration` puts the GPT code and the GLM code side by side with the changed lines marked.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.compare.translation import is_neutral, wire_params
from core.i18n import t

if TYPE_CHECKING:
    from backends.base import Backend, Endpoint

ZHIPU_DEFAULT_BASE = "https://open.bigmodel.cn/api/paas/v4"
# Arguments each SDK's create() takes by name; anything else goes in extra_body.
OPENAI_ARGS = ("temperature", "top_p", "max_tokens", "stop", "presence_penalty", "frequency_penalty",
               "seed", "response_format")
ZHIPUAI_ARGS = ("do_sample", "temperature", "top_p", "max_tokens", "stop", "seed", "response_format")
CHANGED_KINDS = ("key", "base_url", "model")  # the three lines a migration changes


@dataclass(frozen=True)
class CodeRequest:
    """One request as code needs it. `protocol` is "chat" (OpenAI-style /chat/completions) or
    "chatglm" (the legacy ChatGLM API: one JSON body posted to the URL itself)."""

    base_url: str
    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)  # as on the wire
    key_env: str | None = None
    key_required: bool = True
    stream: bool = False
    protocol: str = "chat"
    glm: bool = False  # a GLM endpoint: the zhipuai SDK can call it
    body: dict[str, Any] | None = None  # the whole body, for the chatglm protocol

    @property
    def url(self) -> str:
        if self.protocol == "chatglm":
            return self.base_url
        return self.base_url.rstrip("/") + "/chat/completions"

    def wire_body(self) -> dict[str, Any]:
        """The JSON the server receives."""
        if self.body is not None:
            return self.body
        body: dict[str, Any] = {"model": self.model, "messages": self.messages, **self.params}
        if self.stream:
            body["stream"] = True
        return body


def code_request(backend: Backend, endpoint: Endpoint, base_url: str, model_id: str,
                 messages: list[dict[str, Any]], values: dict[str, Any],
                 extra: dict[str, Any] | None = None, stream: bool = False) -> CodeRequest:
    """The request the page would send to this target. Raises PlaygroundError (VALIDATION) for a
    parameter outside the model's range, as a run would."""
    from core.chat import ChatRequest

    model = backend.model_info(endpoint, model_id)
    schema = backend.schema(endpoint, model)
    params = schema.to_request(schema.merge(values)) | dict(extra or {})
    key_env = endpoint.key_envs[0] if endpoint.key_envs else None
    common = {"base_url": (base_url or endpoint.base_url).strip(), "model": model_id,
              "messages": messages, "key_env": key_env, "key_required": endpoint.key_required}
    body_of = getattr(backend, "body", None)
    if backend.id == "chatglm_http" and callable(body_of):
        body = body_of(ChatRequest(model=model_id, messages=messages, params=params, stream=False))
        return CodeRequest(**common, params=params, protocol="chatglm", body=body)
    # A parameter that asks for nothing (penalty 0, sampling on, no stop word) is the server's own
    # default: the code leaves it out, as a person would write it.
    wire = {k: v for k, v in wire_params(backend.id, params).items() if not is_neutral(k, v)}
    return CodeRequest(**common, params=wire, glm=endpoint.family == "glm",
                       stream=stream or model.stream_only)


# ---- Python -------------------------------------------------------------------------------------
def py(value: Any) -> str:
    """A value as a Python literal (strings as JSON strings, which Python reads the same)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(py(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False, default=str)


def _key_arg(req: CodeRequest) -> str:
    if req.key_env is None:
        return 'api_key="EMPTY",'
    if req.key_required:
        return f"api_key=os.environ[{py(req.key_env)}],"
    return f"api_key=os.environ.get({py(req.key_env)}, \"EMPTY\"),"


def _call(req: CodeRequest, named: tuple[str, ...]) -> list[str]:
    """The create(...) call's argument lines; parameters the SDK does not name go in extra_body."""
    lines = [f"    model={py(req.model)},", "    messages=["]
    lines += [f"        {py(m)}," for m in req.messages]
    lines.append("    ],")
    extra = {}
    for name, value in req.params.items():
        if name in named:
            lines.append(f"    {name}={py(value)},")
        else:
            extra[name] = value
    if extra:
        lines.append(f"    extra_body={py(extra)},")
    if req.stream:
        lines.append("    stream=True,")
    return lines


def _output(req: CodeRequest) -> list[str]:
    if req.stream:
        return ["for chunk in response:",
                "    if chunk.choices and chunk.choices[0].delta.content:",
                '        print(chunk.choices[0].delta.content, end="", flush=True)',
                "print()"]
    return ["print(response.choices[0].message.content)"]


def openai_python(req: CodeRequest) -> str | None:
    """Python with the openai SDK; None for the ChatGLM API, which is not OpenAI-compatible."""
    if req.protocol != "chat":
        return None
    lines = ["import os", "", "from openai import OpenAI", "", "client = OpenAI(",
             f"    {_key_arg(req)}", f"    base_url={py(req.base_url)},", ")", "",
             "response = client.chat.completions.create("]
    lines += [*_call(req, OPENAI_ARGS), ")", *_output(req)]
    return "\n".join(lines) + "\n"


def zhipuai_python(req: CodeRequest) -> str | None:
    """Python with the zhipuai SDK; None unless the target is a GLM endpoint."""
    if req.protocol != "chat" or not req.glm:
        return None
    lines = ["import os", "", "from zhipuai import ZhipuAI", "", "client = ZhipuAI(",
             f"    {_key_arg(req)}"]
    if req.base_url.rstrip("/") != ZHIPU_DEFAULT_BASE:
        lines.append(f"    base_url={py(req.base_url)},")
    lines += [")", "", "response = client.chat.completions.create("]
    lines += [*_call(req, ZHIPUAI_ARGS), ")", *_output(req)]
    return "\n".join(lines) + "\n"


# ---- curl ---------------------------------------------------------------------------------------
def curl(req: CodeRequest) -> str:
    """A curl command; the body in a quoted here-document, so no character needs escaping."""
    # Indented JSON: every line starts with a space, a brace or a bracket (newlines in the text are
    # escaped), so no line of it can read as the terminator.
    body = json.dumps(req.wire_body(), ensure_ascii=False, indent=2)
    end = "JSON"
    lines = [f"curl -sS {'-N ' if req.stream else ''}{_shell_word(req.url)} \\"]
    if req.key_env is not None:
        lines.append(f'  -H "Authorization: Bearer ${req.key_env}" \\')
    lines += ['  -H "Content-Type: application/json" \\', f"  -d @- <<'{end}'", body, end]
    return "\n".join(lines) + "\n"


def _shell_word(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# ---- the migration view -------------------------------------------------------------------------
@dataclass(frozen=True)
class ChangedLine:
    kind: str  # key | base_url | model | other
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Migration:
    """The GPT code and the GLM code, their changed lines marked with a comment."""

    before: str
    after: str
    diff: str
    changed: tuple[ChangedLine, ...]

    @property
    def only_three(self) -> bool:
        return all(c.kind in CHANGED_KINDS for c in self.changed)


def line_kind(line: str) -> str:
    text = line.strip()
    for kind, prefix in (("key", "api_key="), ("base_url", "base_url="), ("model", "model=")):
        if text.startswith(prefix):
            return kind
    return "other"


def migration(before: CodeRequest, after: CodeRequest, lang: str) -> Migration:
    """Both as openai-SDK code (the seed's three-variable migration), changed lines marked."""
    old = (openai_python(before) or "").splitlines()
    new = (openai_python(after) or "").splitlines()
    changed: list[ChangedLine] = []
    old_marks: dict[int, str] = {}
    new_marks: dict[int, str] = {}
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        for k in range(max(i2 - i1, j2 - j1)):
            a = old[i1 + k] if i1 + k < i2 else None
            b = new[j1 + k] if j1 + k < j2 else None
            kind = line_kind(a or b or "")
            if a is not None and b is not None and line_kind(b) != kind:
                kind = "other"
            changed.append(ChangedLine(kind, a, b))
            label = t(f"compare.code.mark_{kind}", lang)
            if a is not None:
                old_marks[i1 + k] = label
            if b is not None:
                new_marks[j1 + k] = label
    diff = "\n".join(difflib.unified_diff(old, new, "gpt.py", "glm.py", n=2, lineterm=""))
    return Migration(_marked(old, old_marks), _marked(new, new_marks), diff + "\n", tuple(changed))


def _marked(lines: list[str], marks: dict[int, str]) -> str:
    return "\n".join(f"{line}  # ← {marks[i]}" if i in marks else line
                     for i, line in enumerate(lines)) + "\n"

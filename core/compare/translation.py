"""One request, as the user set it, translated to each target's schema, with every change in words.

The user sets the parameters once, in GPT's vocabulary (SOURCE_SCHEMA). Each target gets them
through the rules below, in order: one function per rule, each rule's reason in the catalogue as
`compare.rule.<id>`. Whatever a rule changes or drops becomes a `Change` the page lists under the
target's column. The rules follow the GPT -> GLM migration guide (seed 000) and FACTS.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.i18n import t
from core.parameters import ParamKind, ParamSchema, ParamSpec

if TYPE_CHECKING:  # backends import core: only for type hints here
    from backends.base import Backend, Endpoint, ModelInfo

# What the user sets once for every target: OpenAI's parameters plus GLM's do_sample switch.
SOURCE_SCHEMA = ParamSchema((
    ParamSpec("temperature", ParamKind.FLOAT, 1.0, 0.0, 2.0, 0.01),
    ParamSpec("top_p", ParamKind.FLOAT, 1.0, 0.0, 1.0, 0.01),
    ParamSpec("max_tokens", ParamKind.INT, 1024, 1, 131_072, 1),
    ParamSpec("stop", ParamKind.STOP, [], max_items=4, help_key="compare.source.stop_help"),
    ParamSpec("presence_penalty", ParamKind.FLOAT, 0.0, -2.0, 2.0, 0.1),
    ParamSpec("frequency_penalty", ParamKind.FLOAT, 0.0, -2.0, 2.0, 0.1),
    ParamSpec("seed", ParamKind.INT, None, 0, 2**31 - 1, 1, optional=True),
    ParamSpec("do_sample", ParamKind.BOOL, True, help_key="compare.source.do_sample_help"),
))

PENALTIES = ("presence_penalty", "frequency_penalty")
# Backends whose SDK call takes response_format (the runner adds it to the request as it is).
RESPONSE_FORMAT_BACKENDS = ("zhipu", "openai")
GLM_LIKE = ("glm",)  # json_object but not json_schema (FACTS)
GLM_TOP_P_MIN = 0.01


@dataclass(frozen=True)
class Change:
    """One thing a target receives differently from what the user set, and why."""

    rule: str
    param: str
    requested: Any
    sent: Any = None
    dropped: bool = False
    values: tuple[tuple[str, Any], ...] = ()  # more fields for the sentence (model, maximum, ...)
    reason_key: str = ""  # the sentence's catalogue key; compare.rule.<rule> when empty

    @property
    def key(self) -> str:
        return self.reason_key or f"compare.rule.{self.rule}"

    def text(self, lang: str) -> str:
        return t(self.key, lang, param=self.param, requested=_shown(self.requested),
                 sent=_shown(self.sent), **dict(self.values))


@dataclass(frozen=True)
class Translation:
    """The values for the target's schema (what `Backend.prepare` takes), what its SDK call gets
    beyond the schema (response_format), and the changes, in the order the rules made them."""

    values: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    changes: tuple[Change, ...] = ()


@dataclass
class _Work:
    """What the rules read and change for one target."""

    backend_id: str
    family: str
    model_id: str
    schema: ParamSchema
    source: Mapping[str, Any]
    values: dict[str, Any]
    changes: list[Change] = field(default_factory=list)

    @property
    def glm(self) -> bool:
        return self.family == "glm"

    def note(self, rule: str, param: str, requested: Any, sent: Any = None, dropped: bool = False,
             reason_key: str = "", **values: Any) -> None:
        values.setdefault("model", self.model_id)
        self.changes.append(Change(rule, param, requested, sent, dropped, tuple(sorted(values.items())),
                                   reason_key))


# ---- the rules, in the order they apply ---------------------------------------------------------
def glm_greedy_temperature_zero(w: _Work) -> None:
    """GPT's temperature 0 (always the likeliest word) is GLM's do_sample off."""
    if w.glm and w.values.get("temperature") == 0 and w.values.get("do_sample", True) is not False:
        w.values["do_sample"] = False
        w.note("glm_greedy_temperature_zero", "temperature", 0, False)


def do_sample_off_elsewhere(w: _Work) -> None:
    """do_sample is GLM's own switch: elsewhere greedy decoding is the lowest temperature."""
    if "do_sample" not in w.values or w.schema.get("do_sample") is not None:
        return
    wanted = w.values.pop("do_sample")
    spec = w.schema.get("temperature")
    if wanted is False and spec is None:
        w.note("not_a_setting", "do_sample", False, dropped=True)
    elif wanted is False:
        lowest = max(0.0, spec.minimum or 0.0)
        w.values["temperature"] = lowest
        w.note("do_sample_off_elsewhere", "do_sample", False, lowest)


def glm_top_p_zero(w: _Work) -> None:
    """GLM refuses top_p 0; its lowest is 0.01."""
    top_p = w.values.get("top_p")
    if w.glm and isinstance(top_p, int | float) and top_p < GLM_TOP_P_MIN:
        w.values["top_p"] = GLM_TOP_P_MIN
        w.note("glm_top_p_zero", "top_p", top_p, GLM_TOP_P_MIN)


def glm_no_penalties(w: _Work) -> None:
    """GLM has no presence or frequency penalty."""
    if not w.glm:
        return
    for name in PENALTIES:
        if name in w.values:
            w.note("glm_no_penalties", name, w.values.pop(name), dropped=True)


def glm_one_stop_word(w: _Work) -> None:
    """GLM takes one stop word."""
    stop = w.values.get("stop") or []
    if w.glm and len(stop) > 1:
        w.values["stop"] = stop[:1]
        w.note("glm_one_stop_word", "stop", stop, stop[:1], dropped_words=_shown(stop[1:]))


def stop_word_limit(w: _Work) -> None:
    """Other endpoints take a few stop words (OpenAI: 4)."""
    spec = w.schema.get("stop")
    stop = w.values.get("stop") or []
    if spec is not None and len(stop) > spec.max_items:
        w.values["stop"] = stop[:spec.max_items]
        w.note("stop_word_limit", "stop", stop, stop[:spec.max_items], maximum=spec.max_items)


def glm_no_json_schema(w: _Work) -> None:
    """GLM (and DashScope) take response_format json_object, not json_schema."""
    fmt = w.values.get("response_format")
    if (w.family in GLM_LIKE and w.backend_id in RESPONSE_FORMAT_BACKENDS and isinstance(fmt, dict)
            and fmt.get("type") == "json_schema"):
        w.values["response_format"] = {"type": "json_object"}
        w.note("glm_no_json_schema", "response_format", "json_schema", "json_object")


def response_format_unsupported(w: _Work) -> None:
    """Backends without an SDK call that takes response_format (the ChatGLM API, a local model)."""
    if "response_format" in w.values and w.backend_id not in RESPONSE_FORMAT_BACKENDS:
        fmt = w.values.pop("response_format")
        w.note("response_format_unsupported", "response_format", _format_type(fmt), dropped=True)


def chatglm_max_length(w: _Work) -> None:
    """The ChatGLM API's max_length counts the whole conversation: max_tokens is not it."""
    if "max_tokens" in w.values and w.schema.get("max_tokens") is None and w.schema.get("max_length"):
        spec = w.schema.get("max_length")
        w.note("chatglm_max_length", "max_tokens", w.values.pop("max_tokens"), dropped=True,
               kept=spec.default if spec else None)


def max_output_limit(w: _Work) -> None:
    """A model writes at most so many tokens per answer (older GLM-4 models: 4K)."""
    spec = w.schema.get("max_tokens")
    wanted = w.values.get("max_tokens")
    if spec is None or not isinstance(wanted, int | float) or spec.maximum is None:
        return
    if wanted > spec.maximum:
        w.values["max_tokens"] = int(spec.maximum)
        w.note("max_output_limit", "max_tokens", wanted, int(spec.maximum), maximum=int(spec.maximum))


def out_of_range(w: _Work) -> None:
    """Any other number outside the target's range is brought to its nearest end."""
    for name, value in list(w.values.items()):
        spec = w.schema.get(name)
        if spec is None or spec.kind not in (ParamKind.FLOAT, ParamKind.INT):
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        fitted = value
        if spec.minimum is not None and value < spec.minimum:
            fitted = spec.minimum
        if spec.maximum is not None and value > spec.maximum:
            fitted = spec.maximum
        if fitted != value:
            fitted = int(fitted) if spec.kind is ParamKind.INT else fitted
            w.values[name] = fitted
            w.note("out_of_range", name, value, fitted, minimum=_shown(spec.minimum),
                   maximum=_shown(spec.maximum))


def not_a_setting(w: _Work) -> None:
    """A parameter the target's schema does not have is left out (seed on GLM, ...)."""
    for name in list(w.values):
        if w.schema.get(name) is None and name != "response_format":
            w.note("not_a_setting", name, w.values.pop(name), dropped=True)


def greedy_ignores_sampling(w: _Work) -> None:
    """With do_sample off, GLM ignores temperature and top_p: they are not sent."""
    if w.glm and w.source.get("do_sample") is False:
        w.note("greedy_ignores_sampling", "do_sample", False, False)


def zhipu_sdk_rewrite(w: _Work) -> None:
    """The zhipuai SDK rewrites temperature and top_p at the ends of their ranges, silently."""
    for adj in w.schema.adjustments(w.schema.merge(w.values)):
        if adj.name in w.values:
            w.note("zhipu_sdk_rewrite", adj.name, adj.requested, adj.sent, reason_key=adj.reason_key)


Rule = Callable[[_Work], None]
RULES: tuple[tuple[str, Rule], ...] = (
    ("glm_greedy_temperature_zero", glm_greedy_temperature_zero),
    ("do_sample_off_elsewhere", do_sample_off_elsewhere),
    ("glm_top_p_zero", glm_top_p_zero),
    ("glm_no_penalties", glm_no_penalties),
    ("glm_one_stop_word", glm_one_stop_word),
    ("stop_word_limit", stop_word_limit),
    ("glm_no_json_schema", glm_no_json_schema),
    ("response_format_unsupported", response_format_unsupported),
    ("chatglm_max_length", chatglm_max_length),
    ("max_output_limit", max_output_limit),
    ("out_of_range", out_of_range),
    ("not_a_setting", not_a_setting),
    ("greedy_ignores_sampling", greedy_ignores_sampling),
    ("zhipu_sdk_rewrite", zhipu_sdk_rewrite),
)


def is_neutral(name: str, value: Any) -> bool:
    """True for a value that asks for nothing: no penalty, no seed, no stop word, sampling on."""
    if name == "do_sample":
        return value is None or value is True
    if name in PENALTIES:
        return value is None or (not isinstance(value, bool) and value == 0)
    if name == "seed":
        return value is None
    if name == "stop":
        return not value
    if name == "response_format":
        return value is None or _format_type(value) == "text"
    return False


def meaningful(source: Mapping[str, Any]) -> dict[str, Any]:
    """The values that ask for something: neutral ones (no penalty, no seed...) left out."""
    return {name: value for name, value in source.items() if not is_neutral(name, value)}


def translate_for(source: Mapping[str, Any], backend_id: str, family: str, model_id: str,
                  schema: ParamSchema) -> Translation:
    """Run every rule for one target described by its backend id, endpoint family and schema."""
    work = _Work(backend_id, family, model_id, schema, dict(source), meaningful(source))
    for _, rule in RULES:
        rule(work)
    extra = {}
    if "response_format" in work.values:
        extra["response_format"] = work.values.pop("response_format")
    return Translation(values=work.values, extra=extra, changes=tuple(work.changes))


def translate(source: Mapping[str, Any], backend: Backend, endpoint: Endpoint,
              model: ModelInfo) -> Translation:
    """The user's request for this backend, endpoint and model."""
    return translate_for(source, backend.id, endpoint.family, model.id, backend.schema(endpoint, model))


# ---- what each SDK puts on the wire -------------------------------------------------------------
def zhipu_sdk_value(name: str, value: Any) -> Any:
    """The value the zhipuai SDK sends for temperature or top_p (FACTS: it clamps silently)."""
    if name == "temperature":
        return 0.01 if value <= 0 else 0.99 if value >= 1 else value
    if name == "top_p":
        return 0.99 if value >= 1 else 0.01 if value <= 0 else value
    return value


def wire_params(backend_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters as the request body carries them, after the backend and its SDK: GLM's
    greedy mode leaves temperature and top_p out; the zhipuai SDK keeps one stop word and clamps."""
    out = dict(params)
    if out.get("do_sample") is False and backend_id in ("zhipu", "openai"):
        out.pop("temperature", None)
        out.pop("top_p", None)
    if backend_id == "zhipu":
        if "stop" in out:
            out["stop"] = list(out["stop"])[:1]
        if "temperature" in out and out["temperature"] <= 0:
            out["do_sample"] = False
        for name in ("temperature", "top_p"):
            if name in out:
                out[name] = zhipu_sdk_value(name, out[name])
    return out


def _format_type(fmt: Any) -> Any:
    return fmt.get("type") if isinstance(fmt, dict) else fmt


def _shown(value: Any) -> str:
    """A value as a sentence shows it: stop words quoted, newlines as \\n, switches as words."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_shown(v) for v in value) or "—"
    if isinstance(value, str):
        return '"' + value.replace("\n", "\\n") + '"'
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)

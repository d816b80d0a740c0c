"""Parameter translation: one test per rule (core/compare/translation.py), then the wire values."""

from __future__ import annotations

from typing import Any

import pytest

from backends.registry import BACKENDS
from core.compare.translation import (
    RULES,
    SOURCE_SCHEMA,
    Change,
    Translation,
    is_neutral,
    translate,
    wire_params,
)
from core.i18n import has, t

# (backend, endpoint, model) of the targets the rules are about.
GLM_SDK = ("zhipu", "zhipu", "glm-4-plus")
GLM_COMPAT = ("openai", "zhipu_compat", "glm-4-plus")
GPT = ("openai", "openai", "gpt-4o")
DASHSCOPE = ("openai", "dashscope", "qwen-plus")
CHATGLM = ("chatglm_http", "chatglm", "chatglm2-6b")


def run(target: tuple[str, str, str], **source: Any) -> Translation:
    backend = BACKENDS[target[0]]
    endpoint = backend.endpoint(target[1])
    model = backend.model_info(endpoint, target[2])
    return translate(SOURCE_SCHEMA.defaults() | source, backend, endpoint, model)


def only(tr: Translation, rule: str) -> Change:
    found = [c for c in tr.changes if c.rule == rule]
    assert len(found) == 1, tr.changes
    return found[0]


def rules(tr: Translation) -> list[str]:
    return [c.rule for c in tr.changes]


def test_every_rule_has_a_reason_in_both_languages() -> None:
    for rule, _ in RULES:
        assert has(f"compare.rule.{rule}"), rule
        assert t(f"compare.rule.{rule}", "zh") != t(f"compare.rule.{rule}", "en")


def test_glm_greedy_temperature_zero_turns_sampling_off() -> None:
    tr = run(GLM_COMPAT, temperature=0.0)
    change = only(tr, "glm_greedy_temperature_zero")
    assert tr.values["do_sample"] is False
    assert "do_sample=false" in change.text("en")
    assert "temperature" not in wire_params("openai", tr.values | {"top_p": 0.5})
    assert "glm_greedy_temperature_zero" not in rules(run(GPT, temperature=0.0))


def test_do_sample_off_elsewhere_becomes_temperature_zero() -> None:
    tr = run(GPT, do_sample=False, temperature=0.7)
    change = only(tr, "do_sample_off_elsewhere")
    assert tr.values["temperature"] == 0.0
    assert "do_sample" not in tr.values
    assert "temperature 0" in change.text("en")
    # ChatGLM's lowest temperature is 0.01 (its API reads 0 as "not set").
    assert run(CHATGLM, do_sample=False).values["temperature"] == 0.01
    # Sampling on is the default everywhere: nothing to say.
    assert "do_sample_off_elsewhere" not in rules(run(GPT, do_sample=True))


def test_glm_top_p_zero_is_sent_as_0_01() -> None:
    tr = run(GLM_SDK, top_p=0.0)
    change = only(tr, "glm_top_p_zero")
    assert tr.values["top_p"] == 0.01
    assert change.text("en").startswith("top_p 0 is not accepted by GLM")
    assert "sent 0.01" in change.text("en")
    assert run(GPT, top_p=0.0).values["top_p"] == 0.0  # OpenAI takes 0


def test_glm_no_penalties_drops_them() -> None:
    tr = run(GLM_COMPAT, presence_penalty=0.6, frequency_penalty=-0.5)
    dropped = [c for c in tr.changes if c.rule == "glm_no_penalties"]
    assert [c.param for c in dropped] == ["presence_penalty", "frequency_penalty"]
    assert all(c.dropped for c in dropped)
    assert "presence_penalty" not in tr.values and "frequency_penalty" not in tr.values
    assert dropped[0].text("en").startswith("presence_penalty is not supported by GLM: dropped")
    # A penalty of 0 asks for nothing: dropping it is not worth a note.
    assert "glm_no_penalties" not in rules(run(GLM_COMPAT))
    assert run(GPT, presence_penalty=0.6).values["presence_penalty"] == 0.6


def test_glm_one_stop_word_keeps_the_first() -> None:
    tr = run(GLM_SDK, stop=["###", "END"])
    change = only(tr, "glm_one_stop_word")
    assert tr.values["stop"] == ["###"]
    assert change.text("en") == 'GLM takes one stop word: kept the first ("###"), dropped "END".'


def test_stop_word_limit_keeps_the_first_four() -> None:
    tr = run(GPT, stop=["a", "b", "c", "d", "e"])
    only(tr, "stop_word_limit")
    assert tr.values["stop"] == ["a", "b", "c", "d"]
    assert "stop_word_limit" not in rules(run(GPT, stop=["a", "b"]))


def test_glm_no_json_schema_sends_json_object() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    tr = run(GLM_COMPAT, response_format=fmt)
    only(tr, "glm_no_json_schema")
    assert tr.extra == {"response_format": {"type": "json_object"}}
    assert run(GPT, response_format=fmt).extra == {"response_format": fmt}
    assert run(GLM_SDK, response_format={"type": "json_object"}).changes == run(GLM_SDK).changes


def test_response_format_unsupported_on_the_chatglm_api() -> None:
    tr = run(CHATGLM, response_format={"type": "json_object"})
    change = only(tr, "response_format_unsupported")
    assert change.dropped and tr.extra == {}
    assert "json_object" in change.text("en")


def test_chatglm_max_length_is_not_max_tokens() -> None:
    tr = run(CHATGLM, max_tokens=500)
    change = only(tr, "chatglm_max_length")
    assert "max_tokens" not in tr.values
    assert "max_length stays at 2048" in change.text("en")


def test_max_output_limit_of_older_glm_models() -> None:
    tr = run(GLM_SDK, max_tokens=16_000)
    change = only(tr, "max_output_limit")
    assert tr.values["max_tokens"] == 4095
    assert change.text("en") == ("glm-4-plus writes at most 4095 tokens per answer: max_tokens 16000 "
                                 "sent as 4095.")
    assert run(GPT, max_tokens=16_000).values["max_tokens"] == 16_000


def test_out_of_range_brings_a_value_to_the_nearest_end() -> None:
    tr = run(GLM_COMPAT, temperature=1.5)
    change = only(tr, "out_of_range")
    assert tr.values["temperature"] == 1.0
    assert "(0 to 1)" in change.text("en")
    assert run(DASHSCOPE, temperature=2.0).values["temperature"] == 1.99


def test_not_a_setting_drops_what_the_schema_lacks() -> None:
    tr = run(GLM_SDK, seed=42)
    change = only(tr, "not_a_setting")
    assert change.param == "seed" and change.dropped
    assert "seed" not in tr.values
    # DashScope has no frequency_penalty.
    assert only(run(DASHSCOPE, frequency_penalty=0.5), "not_a_setting").param == "frequency_penalty"


def test_greedy_ignores_sampling_when_do_sample_is_off() -> None:
    tr = run(GLM_SDK, do_sample=False, temperature=0.3)
    only(tr, "greedy_ignores_sampling")
    wire = wire_params("zhipu", tr.values)
    assert wire["do_sample"] is False
    assert "temperature" not in wire and "top_p" not in wire


def test_zhipu_sdk_rewrite_temperature_one() -> None:
    tr = run(GLM_SDK, temperature=1.0, top_p=0.5)
    change = only(tr, "zhipu_sdk_rewrite")
    assert change.text("en") == ("Temperature 1 is sent as 0.99: the zhipuai SDK changes temperature ≥ 1 "
                                 "to 0.99.")
    assert wire_params("zhipu", tr.values)["temperature"] == 0.99
    # The openai SDK sends it as it is, to the same GLM model.
    assert "zhipu_sdk_rewrite" not in rules(run(GLM_COMPAT, temperature=1.0))
    assert wire_params("openai", run(GLM_COMPAT, temperature=1.0).values)["temperature"] == 1.0


def test_nothing_to_say_for_gpt_defaults_on_gpt() -> None:
    tr = run(GPT)
    assert tr.changes == ()
    assert tr.values == {"temperature": 1.0, "top_p": 1.0, "max_tokens": 1024}


def test_neutral_values() -> None:
    assert is_neutral("presence_penalty", 0.0) and not is_neutral("presence_penalty", 0.1)
    assert is_neutral("do_sample", True) and not is_neutral("do_sample", False)
    assert is_neutral("seed", None) and not is_neutral("seed", 0)
    assert is_neutral("stop", []) and not is_neutral("stop", ["x"])
    assert is_neutral("response_format", {"type": "text"})
    assert not is_neutral("temperature", 1.0)


@pytest.mark.parametrize("target", [GLM_SDK, GLM_COMPAT, GPT, DASHSCOPE, CHATGLM])
def test_translated_values_pass_the_targets_own_validation(target: tuple[str, str, str]) -> None:
    source = {"temperature": 2.0, "top_p": 0.0, "max_tokens": 200_000, "stop": list("abcdef"),
              "presence_penalty": 2.0, "frequency_penalty": -2.0, "seed": 7, "do_sample": False}
    tr = run(target, **source)
    backend = BACKENDS[target[0]]
    endpoint = backend.endpoint(target[1])
    schema = backend.schema(endpoint, backend.model_info(endpoint, target[2]))
    schema.validate(schema.merge(tr.values))  # raises PlaygroundError if a value is still refused
    assert set(tr.values) <= set(schema.names())


def test_every_note_reads_in_chinese_too() -> None:
    tr = run(GLM_SDK, top_p=0.0, stop=["a", "b"], presence_penalty=1.0, max_tokens=9000, seed=1)
    texts = [c.text("zh") for c in tr.changes]
    assert len(texts) == 6  # top_p, penalty, stop, max_tokens, seed, and the SDK's temperature
    assert all("{" not in text for text in texts), texts
    assert texts[0].startswith("GLM 不接受 top_p 0")

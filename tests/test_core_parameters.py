"""core/parameters: validation, request building, SDK adjustments and stop-word parsing."""

from __future__ import annotations

from typing import Any

import pytest

from backends.base import ModelInfo
from backends.glm_models import glm_schema
from backends.openai_models import openai_schema
from core.errors import ErrorKind, PlaygroundError
from core.parameters import Adjustment, ParamKind, ParamSchema, ParamSpec, parse_stop_words

SCHEMA = ParamSchema((
    ParamSpec("temperature", ParamKind.FLOAT, 0.7, 0.0, 2.0, 0.01),
    ParamSpec("max_tokens", ParamKind.INT, 256, 1, 4096, 1),
    ParamSpec("do_sample", ParamKind.BOOL, True),
    ParamSpec("stop", ParamKind.STOP, [], max_items=2),
    ParamSpec("seed", ParamKind.INT, None, 0, 100, 1, optional=True),
))
FLASH = ModelInfo("glm-4-flash", 128_000, 4_095)


def invalid(schema: ParamSchema, values: dict[str, Any]) -> PlaygroundError:
    with pytest.raises(PlaygroundError) as info:
        schema.validate(values)
    assert info.value.kind is ErrorKind.VALIDATION
    return info.value


# ---- validate ---------------------------------------------------------------------------------
def test_defaults_are_valid_and_complete() -> None:
    assert SCHEMA.validate({}) == {"temperature": 0.7, "max_tokens": 256, "do_sample": True, "stop": [],
                                   "seed": None}


@pytest.mark.parametrize("value", [0.0, 0.5, 2.0, 1])
def test_in_range_float_accepted_as_float(value: float) -> None:
    cleaned = SCHEMA.validate({"temperature": value})
    assert cleaned["temperature"] == value and isinstance(cleaned["temperature"], float)


@pytest.mark.parametrize("value", [-0.01, 2.01, 100])
def test_out_of_range_float_refused_with_range(value: float) -> None:
    err = invalid(SCHEMA, {"temperature": value})
    assert err.params["key"] == "validation.param_range"
    assert err.params["param"] == "temperature"
    assert err.params["minimum"] == 0.0 and err.params["maximum"] == 2.0
    assert err.params["value"] == value


def test_int_bounds_are_inclusive() -> None:
    assert SCHEMA.validate({"max_tokens": 1})["max_tokens"] == 1
    assert SCHEMA.validate({"max_tokens": 4096})["max_tokens"] == 4096
    err = invalid(SCHEMA, {"max_tokens": 4097})
    assert (err.params["key"], err.params["minimum"], err.params["maximum"]) == (
        "validation.param_range", 1, 4096)
    assert invalid(SCHEMA, {"max_tokens": 0}).params["key"] == "validation.param_range"


def test_int_takes_whole_floats_and_strings_but_not_fractions() -> None:
    cleaned = SCHEMA.validate({"max_tokens": 512.0})
    assert cleaned["max_tokens"] == 512 and isinstance(cleaned["max_tokens"], int)
    assert SCHEMA.validate({"max_tokens": "64"})["max_tokens"] == 64
    assert invalid(SCHEMA, {"max_tokens": 12.5}).params["key"] == "validation.param_not_integer"


@pytest.mark.parametrize("value", ["abc", [1], {"a": 1}, True, float("nan"), float("inf"), "nan"])
def test_not_a_number(value: Any) -> None:
    for name in ("temperature", "max_tokens"):
        err = invalid(SCHEMA, {name: value})
        assert err.params["key"] == "validation.param_not_number" and err.params["param"] == name


def test_bool_must_be_a_real_bool() -> None:
    assert SCHEMA.validate({"do_sample": False})["do_sample"] is False
    for value in (1, "false", 0):
        assert invalid(SCHEMA, {"do_sample": value}).params["key"] == "validation.param_not_bool"


def test_required_value_missing() -> None:
    err = invalid(SCHEMA, {"temperature": None})
    assert err.params == {"key": "validation.param_missing", "param": "temperature"}


def test_stop_string_or_list() -> None:
    assert SCHEMA.validate({"stop": "END"})["stop"] == ["END"]
    assert SCHEMA.validate({"stop": ["a", "b"]})["stop"] == ["a", "b"]
    assert SCHEMA.validate({"stop": ("a",)})["stop"] == ["a"]
    assert SCHEMA.validate({"stop": ["", "a", ""]})["stop"] == ["a"]  # blanks dropped
    assert SCHEMA.validate({"stop": None})["stop"] == []
    assert SCHEMA.validate({"stop": ""})["stop"] == []


def test_too_many_stop_words() -> None:
    err = invalid(SCHEMA, {"stop": ["a", "b", "c"]})
    assert err.params["key"] == "validation.stop_too_many"
    assert err.params["count"] == 3 and err.params["maximum"] == 2


def test_stop_of_the_wrong_type() -> None:
    assert invalid(SCHEMA, {"stop": 5}).params["param"] == "stop"


def test_glm_takes_one_stop_word_only() -> None:
    schema = glm_schema(FLASH, sdk_clamps=True)
    assert schema.validate({"stop": ["\n"]})["stop"] == ["\n"]
    err = invalid(schema, {"stop": ["a", "b"]})
    assert err.params["key"] == "validation.stop_too_many" and err.params["maximum"] == 1


def test_glm_top_p_zero_is_refused_and_max_tokens_follow_the_model() -> None:
    schema = glm_schema(FLASH, sdk_clamps=True)
    assert invalid(schema, {"top_p": 0.0}).params["minimum"] == 0.01
    assert invalid(schema, {"max_tokens": 4096}).params["maximum"] == 4095
    custom = glm_schema(ModelInfo("my-finetune"), sdk_clamps=True)
    assert custom.validate({"max_tokens": 100_000})["max_tokens"] == 100_000


# ---- to_request ---------------------------------------------------------------------------------
def test_to_request_leaves_out_unset_seed_and_empty_stop() -> None:
    assert SCHEMA.to_request({}) == {"temperature": 0.7, "max_tokens": 256, "do_sample": True}


def test_to_request_keeps_set_seed_and_stop() -> None:
    out = SCHEMA.to_request({"seed": 7, "stop": "x"})
    assert out["seed"] == 7 and out["stop"] == ["x"]


def test_to_request_validates() -> None:
    with pytest.raises(PlaygroundError) as info:
        SCHEMA.to_request({"temperature": 3})
    assert info.value.params["key"] == "validation.param_range"


def test_openai_seed_is_optional_and_left_out() -> None:
    schema = openai_schema(ModelInfo("gpt-4o", 128_000, 16_384), "openai")
    assert "seed" not in schema.to_request({})
    assert schema.to_request({"seed": 42})["seed"] == 42


# ---- merge / defaults / lookup ------------------------------------------------------------------
def test_merge_drops_unknown_names_and_fills_defaults() -> None:
    merged = SCHEMA.merge({"temperature": 0.1, "presence_penalty": 1.0, "nonsense": 3})
    assert merged == {"temperature": 0.1, "max_tokens": 256, "do_sample": True, "stop": [], "seed": None}
    assert SCHEMA.merge(None) == SCHEMA.defaults()


def test_names_get_and_help_keys() -> None:
    assert SCHEMA.names() == ["temperature", "max_tokens", "do_sample", "stop", "seed"]
    spec = SCHEMA.get("temperature")
    assert spec is not None and spec.label_key == "param.temperature"
    assert spec.help == "param.temperature_help"
    assert SCHEMA.get("nope") is None
    glm_top_p = glm_schema(FLASH, sdk_clamps=False).get("top_p")
    assert glm_top_p is not None and glm_top_p.help == "param.top_p_help_glm"
    assert [s.name for s in SCHEMA] == SCHEMA.names()


# ---- adjustments (what the zhipuai SDK really sends) --------------------------------------------
def zhipu_values(**values: Any) -> dict[str, Any]:
    return glm_schema(FLASH, sdk_clamps=True).merge(values)


def adjustments(**values: Any) -> dict[str, Adjustment]:
    schema = glm_schema(FLASH, sdk_clamps=True)
    return {a.name: a for a in schema.adjustments(zhipu_values(**values))}


def test_temperature_zero_is_sent_as_001() -> None:
    adj = adjustments(temperature=0.0)["temperature"]
    assert (adj.requested, adj.sent, adj.reason_key) == (0.0, 0.01, "adjust.zhipu_temperature_zero")


def test_temperature_one_is_sent_as_099() -> None:
    adj = adjustments(temperature=1.0)["temperature"]
    assert (adj.requested, adj.sent, adj.reason_key) == (1.0, 0.99, "adjust.zhipu_temperature_one")


def test_top_p_one_is_sent_as_099() -> None:
    adj = adjustments(top_p=1.0)["top_p"]
    assert (adj.requested, adj.sent, adj.reason_key) == (1.0, 0.99, "adjust.zhipu_top_p_one")


def test_top_p_zero_is_sent_as_001() -> None:
    assert adjustments(top_p=0.0)["top_p"].sent == 0.01


def test_values_inside_are_not_adjusted() -> None:
    assert adjustments(temperature=0.5, top_p=0.7) == {}


def test_no_adjustment_when_greedy() -> None:
    assert adjustments(temperature=1.0, top_p=1.0, do_sample=False) == {}


def test_no_adjustments_without_the_zhipuai_sdk() -> None:
    schema = glm_schema(FLASH, sdk_clamps=False)
    assert schema.adjustments(schema.merge({"temperature": 1.0, "top_p": 1.0})) == []


def test_adjustments_skip_unset_values() -> None:
    schema = glm_schema(FLASH, sdk_clamps=True)
    assert schema.adjustments({"temperature": None, "do_sample": True}) == []
    assert schema.adjustments({}) == []


# ---- parse_stop_words ---------------------------------------------------------------------------
def test_parse_stop_words_one_per_line_with_literal_newline() -> None:
    assert parse_stop_words("END\n\\n\\nQ:\n\n   \nObservation") == ["END", "\n\nQ:", "Observation"]
    assert parse_stop_words("") == []
    assert parse_stop_words("a\r\nb") == ["a", "b"]


def test_parse_stop_words_round_trip_through_the_box() -> None:
    words = ["\n", "User:", "a\nb"]
    shown = "\n".join(w.replace("\n", "\\n") for w in words)
    assert parse_stop_words(shown) == words


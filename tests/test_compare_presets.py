"""Presets: save / load / list / delete on disk, export and import, URL links, and every bad import."""

from __future__ import annotations

import base64
import json
import random
import zlib
from pathlib import Path
from typing import Any

import pytest

from core.compare.presets import (
    URL_LIMIT,
    Preset,
    PresetStore,
    TargetSetup,
    decode_url,
    encode_url,
    import_json,
)
from core.error_text import explain
from core.errors import ErrorKind, PlaygroundError

BACKENDS = {"zhipu": ("zhipu",), "openai": ("openai", "zhipu_compat", "dashscope", "custom")}


def sample(name: str = "客户问答 FAQ") -> Preset:
    return Preset(
        name=name, backend="openai", endpoint="zhipu_compat", model="glm-4-plus",
        params={"temperature": 0.3, "top_p": 0.7, "max_tokens": 512, "stop": ["###"], "do_sample": True,
                "response_format": {"type": "json_object"}},
        system="你是客服。", messages=[{"role": "user", "content": "退货政策？"},
                                       {"role": "assistant", "content": "七天无理由。"}],
        targets=[TargetSetup("openai", "openai", "gpt-4o"),
                 TargetSetup("zhipu", "zhipu", "glm-4-air", params={"temperature": 0.5})])


def refused(call: Any, *args: Any, **kwargs: Any) -> PlaygroundError:
    with pytest.raises(PlaygroundError) as info:
        call(*args, **kwargs)
    err = info.value
    assert err.kind is ErrorKind.VALIDATION
    for lang in ("en", "zh"):  # a message in words, with every field filled
        text = explain(err, lang).fix
        assert "{" not in text and not text.startswith("preset.error"), text
    return err


def key(err: PlaygroundError) -> str:
    return err.params["key"].removeprefix("preset.error.")


def test_save_load_list_delete_round_trip(tmp_path: Path) -> None:
    store = PresetStore(tmp_path, BACKENDS)
    assert store.names() == []
    store.save(sample())
    store.save(sample("b demo"))
    assert store.names() == ["b demo", "客户问答 FAQ"]
    assert store.load("客户问答 FAQ") == sample()
    assert store.exists("b demo")
    store.delete("b demo")
    assert store.names() == ["客户问答 FAQ"]
    files = list((tmp_path / "presets").iterdir())
    assert len(files) == 1 and files[0].suffix == ".json"  # a hashed name: nothing from the name in the path
    assert not list((tmp_path / "presets").glob("*.tmp"))  # atomic: no leftovers


def test_saving_the_same_name_replaces_it(tmp_path: Path) -> None:
    store = PresetStore(tmp_path, BACKENDS)
    store.save(sample("x"))
    changed = sample("x")
    changed.system = "new"
    store.save(changed)
    assert store.names() == ["x"] and store.load("x").system == "new"


def test_a_name_cannot_reach_another_path(tmp_path: Path) -> None:
    store = PresetStore(tmp_path / "data", BACKENDS)
    store.save(sample("../../etc/passwd"))
    assert [p.parent for p in (tmp_path / "data" / "presets").iterdir()] == [tmp_path / "data" / "presets"]
    assert store.load("../../etc/passwd").name == "../../etc/passwd"


def test_loading_a_missing_preset_says_so(tmp_path: Path) -> None:
    assert key(refused(PresetStore(tmp_path, BACKENDS).load, "gone")) == "not_found"


def test_a_damaged_file_is_skipped_in_the_list(tmp_path: Path) -> None:
    store = PresetStore(tmp_path, BACKENDS)
    store.save(sample("ok"))
    (tmp_path / "presets" / "broken.json").write_text("{not json", encoding="utf-8")
    assert store.names() == ["ok"]


def test_export_import_round_trip_and_no_key_field() -> None:
    text = sample().to_json()
    data = json.loads(text)
    assert data["format"] == "glm-playground-preset" and data["version"] == 1
    assert not any("key" in k.lower() for k in data)
    assert import_json(text, BACKENDS) == sample()
    assert import_json(text.encode("utf-8-sig"), BACKENDS) == sample()  # an uploaded file with BOM


def test_url_round_trip_and_size() -> None:
    value = encode_url(sample())
    assert len(value) <= URL_LIMIT
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_url(value, BACKENDS) == sample()


def test_a_setup_too_big_for_a_link_says_so() -> None:
    big = sample()
    noise = random.Random(7).randbytes(3000)  # text that does not compress
    big.messages = [{"role": "user", "content": base64.b64encode(noise).decode()}]
    err = refused(encode_url, big)
    assert key(err) == "too_big_for_url"
    assert err.params["size"] > URL_LIMIT
    assert "Export JSON" in explain(err, "en").fix


@pytest.mark.parametrize(("value", "expected"), [
    ("not base64 !!!", "bad_link"),
    (base64.urlsafe_b64encode(b"not zlib").decode(), "bad_link"),
    (base64.urlsafe_b64encode(zlib.compress(b"[1, 2]")).decode(), "not_object"),
    (base64.urlsafe_b64encode(zlib.compress(b"\0" * 2_000_000)).decode(), "too_large"),
])
def test_a_damaged_link_says_so(value: str, expected: str) -> None:
    assert key(refused(decode_url, value, BACKENDS)) == expected


def _with(**changes: Any) -> str:
    data = sample().to_dict() | changes
    return json.dumps(data)


@pytest.mark.parametrize(("text", "expected"), [
    ("{not json", "not_json"),
    ("", "not_json"),
    ("[1, 2, 3]", "not_object"),
    ('"a string"', "not_object"),
    (_with(format="something-else"), "wrong_format"),
    (_with(version=99), "newer_version"),
    (_with(version="1"), "newer_version"),
    (_with(backend=""), "no_backend"),
    (_with(backend="gemini"), "unknown_backend"),
    (_with(endpoint="azure"), "unknown_endpoint"),
    (_with(model=42), "wrong_type"),
    (_with(system=["a"]), "wrong_type"),
    (_with(params=[1]), "wrong_type"),
    (_with(params={"temperature": "hot"}), "bad_param"),
    (_with(params={"temperature": {"a": 1}}), "bad_param"),
    (json.dumps(sample().to_dict()).replace("0.3", "NaN"), "bad_param"),
    (_with(messages="hello"), "wrong_type"),
    (_with(messages=["hello"]), "bad_message"),
    (_with(messages=[{"role": "system", "content": "x"}]), "bad_role"),
    (_with(messages=[{"role": "user", "content": 5}]), "wrong_type"),
    (_with(targets={"a": 1}), "wrong_type"),
    (_with(targets=["x"]), "wrong_type"),
    (_with(targets=[{"backend": "nope"}]), "unknown_backend"),
    (_with(targets=[{"backend": "openai", "params": {"seed": [1]}}]), "bad_param"),
    (_with(name="   "), "no_name"),
    (_with(name="x" * 200), "name_too_long"),
])
def test_every_bad_import_gets_a_clear_message(text: str, expected: str) -> None:
    assert key(refused(import_json, text, BACKENDS)) == expected


def test_bad_bytes_and_big_files() -> None:
    assert key(refused(import_json, b"\xff\xfe\x00bad", BACKENDS)) == "not_utf8"
    assert key(refused(import_json, b" " * 2_000_000, BACKENDS)) == "too_large"


def test_the_unknown_backend_message_names_the_known_ones() -> None:
    err = refused(import_json, _with(backend="gemini"), BACKENDS)
    text = explain(err, "en").fix
    assert "gemini" in text and "zhipu, openai" in text


def test_import_fills_a_missing_name_and_a_single_stop_word() -> None:
    data = sample().to_dict()
    data.pop("name")
    data["params"]["stop"] = "END"
    preset = import_json(json.dumps(data), BACKENDS, fallback_name="from-file")
    assert preset.name == "from-file" and preset.params["stop"] == ["END"]

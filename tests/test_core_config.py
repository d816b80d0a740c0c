"""core/config: settings from the environment and secrets, URL presets, and key masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings, endpoint_for_url, mask_key


def settings(env: dict[str, str] | None = None, secrets: dict[str, object] | None = None) -> Settings:
    return Settings(env=env or {}, secrets=secrets or {})


def test_env_beats_secrets() -> None:
    s = settings({"ZHIPUAI_API_KEY": "from-env"}, {"ZHIPUAI_API_KEY": "from-secrets"})
    assert s.get("ZHIPUAI_API_KEY") == "from-env"


def test_secrets_used_when_env_unset() -> None:
    assert settings({}, {"ZHIPUAI_API_KEY": "from-secrets"}).get("ZHIPUAI_API_KEY") == "from-secrets"


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_empty_env_counts_as_unset(blank: str) -> None:
    s = settings({"ZHIPUAI_API_KEY": blank}, {"ZHIPUAI_API_KEY": "from-secrets"})
    assert s.get("ZHIPUAI_API_KEY") == "from-secrets"
    assert settings({"ZHIPUAI_API_KEY": blank}).get("ZHIPUAI_API_KEY") is None
    assert settings({}, {"ZHIPUAI_API_KEY": blank}).get("ZHIPUAI_API_KEY") is None


def test_values_are_stripped_and_texts() -> None:
    s = settings({"PLAYGROUND_MODEL": "  glm-4-flash \n"}, {"PLAYGROUND_TIMEOUT_S": 30})
    assert s.get("PLAYGROUND_MODEL") == "glm-4-flash" and s.model == "glm-4-flash"
    assert s.get("PLAYGROUND_TIMEOUT_S") == "30" and s.timeout_s == 30.0
    assert s.get("NOT_SET") is None


def test_key_for_takes_the_first_set_name_and_says_which() -> None:
    s = settings({"OPENAI_API_KEY": "sk-openai", "DASHSCOPE_API_KEY": ""},
                 {"ZHIPUAI_API_KEY": "zhipu.secret"})
    assert s.key_for(("DASHSCOPE_API_KEY", "OPENAI_API_KEY")) == ("sk-openai", "OPENAI_API_KEY")
    assert s.key_for(("ZHIPUAI_API_KEY", "OPENAI_API_KEY")) == ("zhipu.secret", "ZHIPUAI_API_KEY")
    assert s.key_for(("NOPE",)) == (None, None)
    assert s.key_for(()) == (None, None)


def test_backend_and_model() -> None:
    s = settings({"PLAYGROUND_BACKEND": "openai"}, {"PLAYGROUND_MODEL": "gpt-4o"})
    assert (s.backend, s.model) == ("openai", "gpt-4o")
    assert (settings().backend, settings().model) == (None, None)


@pytest.mark.parametrize(("raw", "seconds"), [
    (None, 120.0), ("30", 30.0), ("2.5", 2.5), ("0", 1.0), ("-5", 1.0), ("abc", 120.0), ("", 120.0),
    ("nan", 120.0), ("inf", 120.0),
])
def test_timeout_parsing(raw: str | None, seconds: float) -> None:
    env = {} if raw is None else {"PLAYGROUND_TIMEOUT_S": raw}
    assert settings(env).timeout_s == seconds


def test_data_dir(tmp_path: Path) -> None:
    assert settings({"PLAYGROUND_DATA_DIR": str(tmp_path)}).data_dir == tmp_path
    assert settings().data_dir == Path.cwd() / "data"


def test_load_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_MODEL", "glm-4-air")
    s = Settings.load({"PLAYGROUND_BACKEND": "zhipu"})
    assert (s.model, s.backend) == ("glm-4-air", "zhipu")
    assert Settings.load().secrets == {}


@pytest.mark.parametrize(("url", "endpoint"), [
    ("https://open.bigmodel.cn/api/paas/v4/", "zhipu_compat"),
    ("https://open.bigmodel.cn/api/paas/v4", "zhipu_compat"),
    ("open.bigmodel.cn/api/paas/v4", "zhipu_compat"),
    ("https://dashscope.aliyuncs.com/compatible-mode/v1", "dashscope"),
    ("https://api.openai.com/v1", "openai"),
    ("HTTPS://API.OPENAI.COM/v1", "openai"),
    (" https://api.openai.com/v1 ", "openai"),
    ("http://127.0.0.1:8000/v1", "custom"),
    ("http://localhost:11434/v1", "custom"),
    ("https://proxy.example.com/v1?upstream=api.openai.com", "custom"),  # host decides, not the text
    ("https://api.openai.com.evil.example/v1", "custom"),
    (None, None),
    ("", None),
    ("   ", None),
])
def test_endpoint_for_url(url: str | None, endpoint: str | None) -> None:
    assert endpoint_for_url(url) == endpoint


@pytest.mark.parametrize("key", ["sk-abcdefghijklmnop1234", "0123456789abcdef.ZYXWVUTSRQ", "123456789"])
def test_mask_key_shows_only_the_last_four(key: str) -> None:
    masked = mask_key(key)
    assert masked == "…" + key[-4:]
    assert key[:-4] not in masked and sum(c in key for c in masked if c != "…") <= 4


@pytest.mark.parametrize("key", ["short", "12345678", "a"])
def test_mask_key_hides_short_keys_entirely(key: str) -> None:
    assert mask_key(key) == "…"


def test_mask_key_of_nothing() -> None:
    assert mask_key(None) == "" and mask_key("") == ""

"""core/i18n and core/error_text: a complete, consistent catalogue in both languages."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from backends.base import ModelInfo
from backends.registry import BACKENDS
from core.error_text import explain
from core.errors import ZHIPU_CODES, ErrorKind, PlaygroundError
from core.i18n import LANGUAGES, catalogue, has, language_for_locale, t

ROOT = Path(__file__).resolve().parents[1]
CODE_DIRS = ("app_pages", "pages", "components", "core", "backends")  # whichever of the pages exists


def source_files() -> list[Path]:
    files = [ROOT / "app.py"]
    for folder in CODE_DIRS:
        files += sorted((ROOT / folder).rglob("*.py"))
    files = [f for f in files if f.exists()]
    assert any(f.parent.name in ("app_pages", "pages") for f in files), "the page files were not found"
    return files


def fields(text: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text)
            if name is not None}


def t_key_args() -> list[tuple[str, ast.expr]]:
    """The first argument of every `t(...)` call in the app's code, with its file."""
    out = []
    for path in source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t" \
                    and node.args:
                out.append((str(path.relative_to(ROOT)), node.args[0]))
    return out


def literal_keys(node: ast.expr) -> list[str]:
    """Keys a literal argument can take: a string, or either branch of `a if c else b`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return literal_keys(node.body) + literal_keys(node.orelse)
    return []


def fstring_prefix(node: ast.expr) -> str | None:
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return None


# ---- the catalogue itself -----------------------------------------------------------------------
def test_catalogue_is_not_empty() -> None:
    assert len(catalogue()) > 100


@pytest.mark.parametrize("key", sorted(catalogue()))
def test_every_entry_has_both_languages_with_the_same_fields(key: str) -> None:
    entry = catalogue()[key]
    for lang in LANGUAGES:
        assert entry.get(lang, "").strip(), f"{key} has no {lang} text"
    assert fields(entry["en"]) == fields(entry["zh"]), key


def test_t_fills_fields_and_falls_back() -> None:
    assert t("error.code_only", "en", code="1113") == "Provider code 1113: quote it when asking support."
    assert t("error.code_only", "zh", code="1113") == "错误码 1113，联系客服时请提供。"
    assert t("no.such.key", "en") == "no.such.key"
    assert t("error.code_only", "fr") == catalogue()["error.code_only"]["en"]  # unknown language: English
    assert t("error.code_only", "en") == catalogue()["error.code_only"]["en"]  # no values: raw text
    assert t("chat.waiting_first", "en", seconds="x") == catalogue()["chat.waiting_first"]["en"]  # bad value
    assert t("chat.waiting_first", "en", seconds=1.26) == "Waiting for the first token… 1.3 s"
    assert has("chat.run") and not has("chat")


@pytest.mark.parametrize(("locale", "lang"), [
    ("zh-CN", "zh"), ("zh-TW", "zh"), ("zh", "zh"), ("en-US", "en"), ("en", "en"), ("EN-gb", "en"),
    (None, "zh"), ("", "zh"), ("fr-FR", "en"),
])
def test_language_for_locale(locale: str | None, lang: str) -> None:
    assert language_for_locale(locale) == lang


# ---- every key the code uses exists ---------------------------------------------------------------
def test_every_literal_t_key_exists() -> None:
    calls = t_key_args()
    assert len(calls) > 30  # the scan really sees the app's calls
    missing = [(path, key) for path, node in calls for key in literal_keys(node) if not has(key)]
    assert missing == []


def test_every_fstring_t_key_has_entries() -> None:
    prefixes = [(path, p) for path, node in t_key_args() if (p := fstring_prefix(node))]
    assert prefixes
    missing = [(path, p) for path, p in prefixes if not any(k.startswith(p) for k in catalogue())]
    assert missing == []


def test_grep_finds_the_same_literal_keys() -> None:
    # A second, independent look: `t("key"` written anywhere in the app's code.
    pattern = re.compile(r"""\bt\(\s*["']([A-Za-z0-9_.]+)["']""")
    keys = {k for f in source_files() for k in pattern.findall(f.read_text(encoding="utf-8"))}
    assert keys and sorted(k for k in keys if not has(k)) == []


def test_every_validation_key_raised_in_code_exists() -> None:
    pattern = re.compile(r"""["'](validation\.[a-z_]+)["']""")
    keys = {k for f in source_files() for k in pattern.findall(f.read_text(encoding="utf-8"))}
    assert {"validation.no_model", "validation.param_range", "validation.only_system"} <= keys
    assert sorted(k for k in keys if not has(k)) == []


def test_every_adjustment_reason_exists() -> None:
    pattern = re.compile(r"""["'](adjust\.[a-z_]+)["']""")
    keys = {k for f in source_files() for k in pattern.findall(f.read_text(encoding="utf-8"))}
    assert len(keys) == 4 and all(has(k) for k in keys)


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_every_error_kind_has_title_and_fix(kind: ErrorKind) -> None:
    assert has(f"error.{kind.value}.title")
    if kind is not ErrorKind.VALIDATION:
        assert has(f"error.{kind.value}.fix")


def test_every_backend_endpoint_and_parameter_is_labelled() -> None:
    missing: list[str] = []
    for backend in BACKENDS.values():
        missing += [backend.label_key] if not has(backend.label_key) else []
        for endpoint in backend.endpoints:
            missing += [endpoint.label_key] if not has(endpoint.label_key) else []
            for model in (*endpoint.models, ModelInfo("my-custom-model")):
                for spec in backend.schema(endpoint, model):
                    missing += [k for k in (spec.label_key, spec.help) if not has(k)]
    assert missing == []


def test_every_model_note_exists() -> None:
    notes = [m.note for b in BACKENDS.values() for e in b.endpoints for m in e.models if m.note]
    assert notes and sorted(n for n in notes if not has(n)) == []


def test_roles_are_labelled() -> None:
    assert all(has(f"role.{r}") for r in ("system", "user", "assistant"))


# ---- error_text.explain ---------------------------------------------------------------------------
CODE_WORDS = {"1113": ("balance", "欠费"), "1261": ("too long", "超长"), "1301": ("safety", "敏感"),
              "1302": ("same time", "并发"), "1214": ("user message", "用户消息")}


@pytest.mark.parametrize("code", sorted(CODE_WORDS))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_explain_gives_the_code_specific_fix(code: str, lang: str) -> None:
    err = PlaygroundError(ZHIPU_CODES[code], code=code, status=400, detail="provider words")
    text = explain(err, lang)
    word = CODE_WORDS[code][0 if lang == "en" else 1]
    assert word in text.fix and code in text.fix
    assert text.fix != t(f"error.{err.kind.value}.fix", lang)
    assert code in text.code_line and "400" in text.code_line
    assert text.detail == "provider words"


def no_raw_key(text: str) -> bool:
    return not re.fullmatch(r"[a-z_]+(\.[A-Za-z0-9_]+)+", text) and "{" not in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_explain_never_returns_a_raw_key(lang: str) -> None:
    errors = [PlaygroundError(kind, params={"envs": "ZHIPUAI_API_KEY"}) for kind in ErrorKind
              if kind is not ErrorKind.VALIDATION]
    errors += [PlaygroundError(kind, code=code) for code, kind in ZHIPU_CODES.items()]
    errors += [PlaygroundError(ErrorKind.SERVER_ERROR, code="500", status=500),
               PlaygroundError(ErrorKind.AUTH, code="invalid_api_key", status=401)]
    errors += [PlaygroundError(ErrorKind.VALIDATION, params=params) for params in (
        {"key": "validation.no_messages"}, {"key": "validation.no_model"},
        {"key": "validation.empty_message", "position": 2, "role": "assistant"},
        {"key": "validation.param_range", "param": "temperature", "value": 3, "minimum": 0.0,
         "maximum": 1.0},
        {"key": "validation.stop_too_many", "param": "stop", "count": 3, "maximum": 1},
        {"key": "validation.param_not_number", "param": "max_tokens", "value": "abc"},
        {})]
    for err in errors:
        text = explain(err, lang)
        assert text.title and text.fix, err
        assert no_raw_key(text.title) and no_raw_key(text.fix), (err, text)


def test_explain_validation_translates_param_and_role() -> None:
    err = PlaygroundError(ErrorKind.VALIDATION, params={
        "key": "validation.param_range", "param": "temperature", "value": 1.5, "minimum": 0.0,
        "maximum": 1.0})
    assert explain(err, "en").fix.startswith("Temperature is 1.5, outside 0.0 to 1.0")
    assert explain(err, "zh").fix.startswith("温度（temperature） 为 1.5")
    empty = PlaygroundError(ErrorKind.VALIDATION, params={
        "key": "validation.empty_message", "position": 2, "role": "assistant"})
    assert explain(empty, "en").fix.startswith("Message 2 (assistant) is empty")
    assert explain(empty, "zh").fix.startswith("第 2 条消息（助手）是空的")
    assert explain(empty, "en").title == "Not sent yet" and explain(empty, "en").code_line == ""
    assert err.params["param"] == "temperature"  # explain does not change the error


def test_explain_missing_key_names_the_variables() -> None:
    err = PlaygroundError(ErrorKind.MISSING_KEY, params={"envs": "ZHIPUAI_API_KEY"})
    assert "ZHIPUAI_API_KEY" in explain(err, "en").fix and "ZHIPUAI_API_KEY" in explain(err, "zh").fix


def test_explain_code_lines() -> None:
    assert explain(PlaygroundError(ErrorKind.SERVER_ERROR, status=502), "en").code_line == "HTTP status 502."
    assert explain(PlaygroundError(ErrorKind.QUOTA, code="1113"), "en").code_line.startswith(
        "Provider code 1113:")
    assert explain(PlaygroundError(ErrorKind.UNKNOWN), "zh").code_line == ""

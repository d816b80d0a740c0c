"""core/finetune/validation: every rule of the chat fine-tune format, failing and passing, by line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.finetune.validation import ERROR, RULES, WARNING, validate_jsonl, validate_records
from core.finetune.wording import describe
from core.i18n import t


def msgs(*pairs: tuple[str, Any]) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in pairs]}


GOOD = msgs(("system", "你是客服。"), ("user", "退货怎么办？"), ("assistant", "七天内可以无理由退货。"))
GOOD_MULTI = msgs(("user", "hi"), ("assistant", "hello"), ("user", "price?"), ("assistant", "5 yuan"))


def codes(record: Any, limit: int | None = None) -> list[str]:
    return [p.code for p in validate_records([record], limit).problems]


# Each rule: a record that breaks it, and the closest record that does not.
CASES: dict[str, tuple[Any, Any]] = {
    "not_object": ([GOOD], GOOD),
    "no_messages": ({"conversation": []}, GOOD),
    "empty_messages": ({"messages": []}, GOOD),
    "message_not_object": ({"messages": ["hi", {"role": "assistant", "content": "x"}]}, GOOD),
    "missing_role": ({"messages": [{"content": "hi"}, {"role": "assistant", "content": "x"}]}, GOOD),
    "missing_content": ({"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]}, GOOD),
    "unknown_key": ({**GOOD, "id": 7}, GOOD),
    "unknown_role": (msgs(("user", "hi"), ("bot", "x"), ("assistant", "y")), GOOD),
    "content_not_string": (msgs(("user", ["hi"]), ("assistant", "x")), GOOD),
    "content_empty": (msgs(("user", "  "), ("assistant", "x")), GOOD),
    "no_user": (msgs(("system", "s"), ("assistant", "x")), GOOD),
    "no_assistant": (msgs(("system", "s"), ("user", "hi")), GOOD),
    "last_not_assistant": (msgs(("user", "hi"), ("assistant", "x"), ("user", "and?")), GOOD_MULTI),
    "system_not_first": (msgs(("user", "hi"), ("system", "s"), ("assistant", "x")), GOOD),
    "not_alternating": (msgs(("user", "hi"), ("user", "again"), ("assistant", "x")), GOOD_MULTI),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_fails_and_passes(rule: str) -> None:
    bad, good = CASES[rule]
    assert rule in codes(bad), codes(bad)
    assert codes(good) == []


def test_every_rule_is_covered_here() -> None:
    covered = set(CASES) | {"invalid_json", "too_long", "duplicate"}  # tested below
    assert covered == set(RULES)


def test_invalid_json_line_is_reported_and_the_rest_checked() -> None:
    lines = [json.dumps(GOOD, ensure_ascii=False), '{"messages": [', "", json.dumps(GOOD_MULTI), "[1, 2]"]
    report = validate_jsonl(lines)
    assert report.total == 4  # the blank line is not an example, but keeps the numbering
    assert [(p.line, p.code) for p in report.problems] == [(2, "invalid_json"), (5, "not_object")]
    assert report.valid_count == 2
    assert "column" in report.problems[0].values["detail"]
    assert report.problems[1].values == {"found": "array"}


def test_too_long_uses_the_limit() -> None:
    long = msgs(("user", "问" * 100), ("assistant", "答" * 100))  # 200 CJK tokens + 2 x 4 overhead
    found = validate_records([long], limit=207).problems
    assert [(p.code, p.values) for p in found] == [("too_long", {"tokens": 208, "limit": 207})]
    assert codes(long, limit=208) == []
    assert codes(long) == []  # no limit chosen: no length rule
    english = msgs(("user", "word " * 100), ("assistant", "ok"))  # 500 chars -> 125 + 1 + 8 tokens
    assert codes(english, limit=134) == [] and codes(english, limit=133) == ["too_long"]


def test_a_tokenizer_can_replace_the_estimate() -> None:
    record = msgs(("user", "a b c"), ("assistant", "d"))  # estimate: 2 + 1 + 2 x 4 = 11 tokens
    assert codes(record, limit=11) == [] and codes(record, limit=10) == ["too_long"]

    def words(text: str) -> int:
        return len(text.split())  # 3 + 1 + 8 = 12

    assert validate_records([record], 12, words).problems == []
    assert [p.code for p in validate_records([record], 11, words).problems] == ["too_long"]
    # A tokenizer may count more tokens than characters: the short-cut of the estimate is not used.
    assert [p.code for p in validate_records([record], 50, lambda s: 100).problems] == ["too_long"]


def test_duplicates_are_warnings_naming_the_first_line() -> None:
    other = msgs(("user", "hi"), ("assistant", "hello!"))
    report = validate_records([GOOD, other, GOOD, GOOD])
    found = [(p.line, p.code, p.severity, p.values) for p in report.problems]
    assert found == [(3, "duplicate", WARNING, {"first": 1}), (4, "duplicate", WARNING, {"first": 1})]
    assert report.error_lines == frozenset() and report.valid_count == 4
    assert report.warning_lines == {3, 4}
    # The same words in other roles are not a duplicate.
    swapped = msgs(("system", "你是客服。"), ("assistant", "退货怎么办？"),
                   ("user", "七天内可以无理由退货。"))
    assert "duplicate" not in [p.code for p in validate_records([GOOD, swapped]).problems]


def test_one_example_can_break_several_rules_each_reported() -> None:
    record = {"messages": [{"role": "assistant", "content": ""}, {"role": "system", "content": "s", "x": 1}],
              "meta": {}}
    found = validate_records([record], first_line=7).problems
    assert {(p.line, p.code, p.message) for p in found} == {
        (7, "unknown_key", None), (7, "content_empty", 1), (7, "unknown_key", 2), (7, "no_user", None),
        (7, "last_not_assistant", 2), (7, "system_not_first", 2)}
    assert all(p.severity == ERROR for p in found)


def test_odd_json_values_are_named_not_crashed_on() -> None:
    record = {"messages": [{"role": ["user"], "content": {"text": "hi"}}, {"role": None, "content": None},
                           {"role": "assistant", "content": 42}], 1: True}
    found = {(p.code, p.message, *p.values.values()) for p in validate_records([record]).problems}
    assert found == {("unknown_key", None, "1"), ("unknown_role", 1, "['user']"),
                     ("content_not_string", 1, "dict"), ("missing_role", 2), ("missing_content", 2),
                     ("content_not_string", 3, "number"), ("no_user", None)}


def test_report_counts_per_rule_and_by_line() -> None:
    report = validate_records([GOOD, {"messages": []}, "x", {"messages": []}])
    assert report.counts() == {"empty_messages": 2, "not_object": 1}
    assert sorted(report.by_line()) == [2, 3, 4]
    assert report.valid_count == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_problem_reads_as_a_sentence_with_its_place(lang: str) -> None:
    bad_records = [bad for bad, _ in CASES.values()] + ["[", msgs(("user", "问" * 50), ("assistant", "答"))]
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in bad_records]
    good = json.dumps(GOOD, ensure_ascii=False)
    report = validate_jsonl([*lines, good, good], limit=40)
    texts = [describe(p, lang) for p in report.problems]
    assert {p.code for p in report.problems} == set(RULES)
    for problem, text in zip(report.problems, texts, strict=True):
        assert "{" not in text.replace('{"', "").replace("{{", ""), text  # every field filled
        assert t("finetune.where.line", lang, line=problem.line) in text
        assert not text.startswith("finetune."), text

"""Check fine-tune examples, each with its line number: what is wrong and where.

Every rule of the chat fine-tune format (seed 003): one JSON object per line with a `messages`
list; each message an object with a known `role` and non-empty text `content`; at least one user
and one assistant message, the last from the assistant; a system message only first; user and
assistant taking turns; no longer than the chosen model's context. Duplicates are warnings.

Errors keep an example out of the exported file; warnings do not. The checks are written for
speed: a 100,000-line file is validated in a small multiple of the time `json.loads` takes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from core.token_estimate import MESSAGE_OVERHEAD, estimate_tokens

ERROR = "error"
WARNING = "warning"
ROLES = frozenset({"system", "user", "assistant"})
_TOP_KEYS = frozenset({"messages"})
_MESSAGE_KEYS = frozenset({"role", "content"})

# Every rule, in the order the page lists them (the catalogue has finetune.rule.<code>).
RULES: tuple[str, ...] = (
    "invalid_json", "not_object", "no_messages", "empty_messages", "message_not_object",
    "missing_role", "missing_content", "unknown_key", "unknown_role", "content_not_string",
    "content_empty", "no_user", "no_assistant", "last_not_assistant", "system_not_first",
    "not_alternating", "too_long", "duplicate",
)

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Problem:
    """One finding: the example's line (1-based), the rule, and the message it is about (1-based)."""

    line: int
    code: str
    severity: str = ERROR
    message: int | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The catalogue key that says what is wrong and how to fix it."""
        return f"finetune.rule.{self.code}"


@dataclass
class Report:
    """Every problem of a set of examples, and how many examples were checked."""

    total: int
    problems: list[Problem]

    @cached_property
    def error_lines(self) -> frozenset[int]:
        return frozenset(p.line for p in self.problems if p.severity == ERROR)

    @cached_property
    def warning_lines(self) -> frozenset[int]:
        return frozenset(p.line for p in self.problems if p.severity == WARNING)

    @property
    def valid_count(self) -> int:
        return self.total - len(self.error_lines)

    def by_line(self) -> dict[int, list[Problem]]:
        """The problems of each line that has any (worked out once)."""
        return self._by_line

    @cached_property
    def _by_line(self) -> dict[int, list[Problem]]:
        out: dict[int, list[Problem]] = {}
        for problem in self.problems:
            out.setdefault(problem.line, []).append(problem)
        return out

    def counts(self) -> dict[str, int]:
        """How many examples break each rule."""
        out: dict[str, set[int]] = {}
        for problem in self.problems:
            out.setdefault(problem.code, set()).add(problem.line)
        return {code: len(lines) for code, lines in out.items()}


class Checker:
    """Checks records one at a time, remembering what it saw for the duplicate rule."""

    def __init__(self, limit: int | None = None, count_tokens: TokenCounter | None = None) -> None:
        self.limit = limit if limit and limit > 0 else None
        self.count_tokens = count_tokens or estimate_tokens
        # Every estimate_tokens count is at most the text's length: a short example needs no count.
        self._length_bound = count_tokens is None or count_tokens is estimate_tokens
        self.problems: list[Problem] = []
        self.total = 0
        self._seen: dict[Any, int] = {}

    def report(self) -> Report:
        return Report(self.total, self.problems)

    def invalid_json(self, line: int, err: ValueError) -> None:
        self.total += 1
        self.problems.append(Problem(line, "invalid_json", values={"detail": _json_error(err)}))

    def check(self, record: Any, line: int) -> None:
        """Add the problems of one record (one line of the file) to the report."""
        self.total += 1
        out = self.problems
        if type(record) is not dict:
            out.append(Problem(line, "not_object", values={"found": _kind(record)}))
            return
        messages = record.get("messages")
        if len(record) != 1 or messages is None:
            for key in record:
                if key not in _TOP_KEYS:
                    out.append(Problem(line, "unknown_key", values={"name": str(key)}))
        if type(messages) is not list:
            out.append(Problem(line, "no_messages"))
            return
        if not messages:
            out.append(Problem(line, "empty_messages"))
            return
        chars = 0
        whole = True  # every message an object with a known role and text content
        has_user = has_assistant = False
        previous = None  # the last user / assistant role, for turn-taking
        seen: list[Any] = []  # role, content, role, content...: the duplicate rule's key
        n = 0
        for message in messages:
            n += 1
            if type(message) is not dict:
                out.append(Problem(line, "message_not_object", message=n))
                whole = False
                continue
            role = message.get("role")
            content = message.get("content")
            if len(message) != 2 or role is None or content is None:
                whole = self._message_keys(message, line, n) and whole
            if role == "user" or role == "assistant":
                if role == previous:
                    out.append(Problem(line, "not_alternating", message=n, values={"role": role}))
                previous = role
                if role == "user":
                    has_user = True
                else:
                    has_assistant = True
            elif role == "system":
                if n > 1:
                    out.append(Problem(line, "system_not_first", message=n))
            elif role is not None:
                out.append(Problem(line, "unknown_role", message=n, values={"role": str(role)}))
                whole = False
            if type(content) is str:
                if not content or content.isspace():
                    out.append(Problem(line, "content_empty", message=n))
                chars += len(content)
                seen.append(role)
                seen.append(content)
            elif content is not None:
                out.append(Problem(line, "content_not_string", message=n,
                                   values={"found": _kind(content)}))
                whole = False
        if not has_user:
            out.append(Problem(line, "no_user"))
        if not has_assistant:
            out.append(Problem(line, "no_assistant"))
        last = messages[-1]
        if type(last) is dict:
            role = last.get("role")
            if role == "user" or role == "system":
                out.append(Problem(line, "last_not_assistant", message=n, values={"role": role}))
        if whole:
            if self.limit is not None:
                self._length(messages, chars, line)
            first = self._seen.setdefault(tuple(seen), line)
            if first != line:
                out.append(Problem(line, "duplicate", WARNING, values={"first": first}))

    def _message_keys(self, message: dict[Any, Any], line: int, n: int) -> bool:
        out = self.problems
        ok = True
        if message.get("role") is None:  # absent, or null
            out.append(Problem(line, "missing_role", message=n))
            ok = False
        if message.get("content") is None:
            out.append(Problem(line, "missing_content", message=n))
            ok = False
        for key in message:
            if key not in _MESSAGE_KEYS:
                out.append(Problem(line, "unknown_key", message=n, values={"name": str(key)}))
        return ok

    def _length(self, messages: list[dict[str, Any]], chars: int, line: int) -> None:
        limit = self.limit
        assert limit is not None
        if self._length_bound and chars + MESSAGE_OVERHEAD * len(messages) <= limit:
            return
        count = self.count_tokens
        tokens = sum(count(m["content"]) for m in messages) + MESSAGE_OVERHEAD * len(messages)
        if tokens > limit:
            self.problems.append(Problem(line, "too_long", values={"tokens": tokens, "limit": limit}))


def validate_records(records: Iterable[Any], limit: int | None = None,
                     count_tokens: TokenCounter | None = None, first_line: int = 1) -> Report:
    """Check parsed records; the first is on line `first_line` (a dataset's lines start at 1)."""
    checker = Checker(limit, count_tokens)
    for line, record in enumerate(records, start=first_line):
        checker.check(record, line)
    return checker.report()


def validate_jsonl(lines: Iterable[str | bytes], limit: int | None = None,
                   count_tokens: TokenCounter | None = None) -> Report:
    """Check the lines of a JSONL file as they are; blank lines are skipped but keep numbering."""
    checker = Checker(limit, count_tokens)
    loads = json.loads
    for line_no, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = loads(text)
        except ValueError as err:
            checker.invalid_json(line_no, err)
            continue
        checker.check(record, line_no)
    return checker.report()


def _kind(value: Any) -> str:
    """A JSON value's kind in JSON's words (array, number...), for a message."""
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _json_error(err: ValueError) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"{err.msg}, column {err.colno}"
    return str(err)[:200]

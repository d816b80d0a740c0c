"""The prompt_template: the seed's Chinese one and an English one, checked, filled, saved by name.

As in Zhipu's retrieval tool, `{{knowledge}}` is replaced by the retrieved text and `{{question}}`
by the user's question. Both are required; any other `{{...}}` would reach the model as it is, so
it is flagged (with the intended name when it is only a spacing or case slip).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from core.retrieval.errors import retrieval_error
from core.retrieval.storage import read_json, write_json_atomic

REQUIRED = ("knowledge", "question")

# The template from the seed (Zhipu's retrieval example), with Chinese punctuation restored.
SEED_TEMPLATE_ZH = (
    '从文档\n"""\n{{knowledge}}\n"""\n中找问题\n"""\n{{question}}\n"""\n'
    "的答案，找到答案就仅使用文档语句回答，找不到答案就用自身知识回答并告诉用户该信息不是来自文档。\n"
    "不要复述问题，直接开始回答。"
)
TEMPLATE_EN = (
    'From the documents\n"""\n{{knowledge}}\n"""\nfind the answer to the question\n"""\n{{question}}\n"""\n'
    "If the documents contain the answer, answer using only their sentences. If they do not, answer "
    "from your own knowledge and tell the user that this information does not come from the documents.\n"
    "Do not repeat the question; start the answer directly."
)
BUILTIN: dict[str, str] = {"seed_zh": SEED_TEMPLATE_ZH, "english": TEMPLATE_EN}

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_SINGLE = re.compile(r"(?<!\{)\{\s*(knowledge|question)\s*\}(?!\})", re.IGNORECASE)
_FILL = re.compile(r"\{\{(knowledge|question)\}\}")
MAX_TEMPLATE_NAME = 60


@dataclass(frozen=True)
class TemplateCheck:
    """What is wrong with a template: missing placeholders, unknown ones, and likely intended names."""

    missing: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()  # as written, e.g. "{{ Knowledge }}"
    suggestions: dict[str, str] = field(default_factory=dict)  # as written -> "{{knowledge}}"

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unknown


def check_template(template: str) -> TemplateCheck:
    found = set()
    unknown: list[str] = []
    suggestions: dict[str, str] = {}
    for match in _PLACEHOLDER.finditer(template):
        inner = match.group(1)
        if inner in REQUIRED:
            found.add(inner)
            continue
        written = match.group(0)
        if written not in unknown:
            unknown.append(written)
        name = inner.strip().lower()
        if name in REQUIRED:
            suggestions[written] = "{{" + name + "}}"
    for match in _SINGLE.finditer(template):
        written = match.group(0)
        if written not in unknown:
            unknown.append(written)
            suggestions[written] = "{{" + match.group(1).lower() + "}}"
    missing = tuple(name for name in REQUIRED if name not in found)
    return TemplateCheck(missing=missing, unknown=tuple(unknown), suggestions=suggestions)


def require_valid(template: str) -> None:
    """Raise a VALIDATION error naming what to fix, for a template that cannot be sent."""
    check = check_template(template)
    if check.missing:
        raise retrieval_error("retrieval.error.template_missing",
                              names=", ".join("{{" + n + "}}" for n in check.missing))
    if check.unknown:
        raise retrieval_error("retrieval.error.template_unknown", names=", ".join(check.unknown))


def fill_template(template: str, knowledge: str, question: str) -> str:
    """The template with both placeholders replaced, in one pass: a `{{question}}` inside the
    knowledge text stays as written."""
    values = {"knowledge": knowledge, "question": question}
    return _FILL.sub(lambda m: values[m.group(1)], template)


class TemplateStore:
    """Templates saved by name, shared by every knowledge base: `<data_dir>/retrieval_templates.json`."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "retrieval_templates.json"

    def all(self) -> dict[str, str]:
        data = read_json(self.path, {})
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}

    def save(self, name: str, template: str) -> str:
        """Save (or overwrite) a valid template under `name`; returns the name as stored."""
        name = " ".join(str(name or "").split())
        if not name:
            raise retrieval_error("retrieval.error.template_name")
        if len(name) > MAX_TEMPLATE_NAME:
            raise retrieval_error("retrieval.error.name_long", limit=MAX_TEMPLATE_NAME)
        require_valid(template)
        write_json_atomic(self.path, self.all() | {name: template})
        return name

    def delete(self, name: str) -> None:
        templates = self.all()
        if templates.pop(name, None) is not None:
            write_json_atomic(self.path, templates)

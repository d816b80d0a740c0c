"""Problems in words: 'Line 7, message 2: the role “bot” is not one of system, user, assistant.'"""

from __future__ import annotations

from core.finetune.validation import Problem
from core.i18n import t


def where(problem: Problem, lang: str, numbering: str = "line") -> str:
    """'Line 7', 'Row 7' or 'Item 7', with the message when the problem is about one."""
    place = t(f"finetune.where.{numbering}", lang, line=problem.line)
    if problem.message is not None:
        place = t("finetune.where.message", lang, place=place, message=problem.message)
    return place


def what(problem: Problem, lang: str) -> str:
    """What is wrong and how to fix it, without the place."""
    return t(problem.key, lang, **problem.values)


def describe(problem: Problem, lang: str, numbering: str = "line") -> str:
    return t("finetune.where.joined", lang, place=where(problem, lang, numbering), what=what(problem, lang))

"""Error explanations in the user's language: what happened, what to do, the provider's code."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ErrorKind, PlaygroundError
from core.i18n import t


@dataclass(frozen=True)
class Explanation:
    title: str
    fix: str
    code_line: str = ""
    detail: str = ""


def explain(err: PlaygroundError, lang: str) -> Explanation:
    """Turn any PlaygroundError into plain words: a title, the fix, and the code to quote."""
    if err.kind is ErrorKind.VALIDATION:
        params = dict(err.params)
        key = params.pop("key", "validation.generic")
        if "param" in params:
            params["param"] = t(f"param.{params['param']}", lang)
        if params.get("role"):
            params["role"] = t(f"role.{params['role']}", lang)
        # Nothing was sent, so there is no provider code to quote: the message names it.
        return Explanation(t("error.validation.title", lang), t(key, lang, **params))
    fix = t(err.message_key, lang, **err.params)
    return Explanation(t(f"error.{err.kind.value}.title", lang), fix,
                       code_line=_code_line(err, lang), detail=err.detail)


def _code_line(err: PlaygroundError, lang: str) -> str:
    if err.code and err.status:
        line = t("error.code_and_status", lang, code=err.code, status=err.status)
    elif err.code:
        line = t("error.code_only", lang, code=err.code)
    elif err.status:
        line = t("error.status_only", lang, status=err.status)
    else:
        line = ""
    if err.request_id:
        line = f"{line} {t('error.request_id', lang, request_id=err.request_id)}".strip()
    return line

"""The backends the playground offers: a new backend is one module plus one line here."""

from __future__ import annotations

from backends.base import Backend
from backends.chatglm_http import ChatGLMHTTPBackend
from backends.local import LocalBackend
from backends.openai_compat import OpenAICompatBackend
from backends.zhipu import ZhipuBackend

BACKENDS: dict[str, Backend] = {
    "zhipu": ZhipuBackend(),
    "openai": OpenAICompatBackend(),
    "chatglm_http": ChatGLMHTTPBackend(),
    "local": LocalBackend(),
}

DEFAULT_BACKEND = "zhipu"


def get_backend(backend_id: str | None) -> Backend:
    """The backend with this id, or the default one for an unknown id."""
    return BACKENDS.get(backend_id or "", BACKENDS[DEFAULT_BACKEND])

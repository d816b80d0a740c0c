"""A model running inside this server: GLM-4 / glm-edge natively, ChatGLM2/3 through their own code."""

from backends.local.backend import LOCAL_ENDPOINT, LocalBackend
from backends.local.spec import LoadSpec, LocalConnection

__all__ = ["LOCAL_ENDPOINT", "LoadSpec", "LocalBackend", "LocalConnection"]

"""Models a dataset can be built for, with the longest example each takes (its context, in tokens).

Zhipu's models can be trained from the page (the zhipuai SDK's fine-tuning API); the OpenAI ones
are here for their length limit, since the same JSONL file trains them on OpenAI's platform.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseModel:
    id: str
    context: int  # tokens: an example longer than this is flagged
    provider: str  # "zhipu" (trainable from the page) | "openai"


BASE_MODELS: tuple[BaseModel, ...] = (
    # Context windows as declared in backends/glm_models.py and backends/openai_models.py.
    BaseModel("glm-4-flash", 128_000, "zhipu"),
    BaseModel("glm-4-air", 128_000, "zhipu"),
    BaseModel("glm-4-plus", 128_000, "zhipu"),
    BaseModel("chatglm3-6b", 8_000, "zhipu"),
    # OpenAI trains these on examples of up to 65,536 tokens.
    BaseModel("gpt-4o-mini-2024-07-18", 65_536, "openai"),
    BaseModel("gpt-4.1-mini-2025-04-14", 65_536, "openai"),
)
DEFAULT_BASE_MODEL = BASE_MODELS[0].id


def base_model(model_id: str | None) -> BaseModel | None:
    return next((m for m in BASE_MODELS if m.id == model_id), None)


def trainable_ids() -> list[str]:
    """The models the Train tab can start a job for (Zhipu's)."""
    return [m.id for m in BASE_MODELS if m.provider == "zhipu"]

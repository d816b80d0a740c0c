"""OpenAI-compatible endpoints as data: presets, their models and their parameter rules."""

from __future__ import annotations

from backends.base import Endpoint, ModelInfo
from backends.glm_models import GLM_MODELS, ZHIPU_BASE_URL
from core.parameters import ParamKind, ParamSchema, ParamSpec

OPENAI_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("gpt-4o", 128_000, 16_384, note="model.flagship_multimodal"),
    ModelInfo("gpt-4o-mini", 128_000, 16_384, note="model.small_low_cost"),
    ModelInfo("gpt-4.1", 1_047_576, 32_768, note="model.long_context"),
    ModelInfo("gpt-4.1-mini", 1_047_576, 32_768, note="model.long_context_low_cost"),
    ModelInfo("gpt-3.5-turbo", 16_385, 4_096, note="model.legacy"),
)

# DashScope serves GLM in compatible mode only as a stream (FACTS); Qwen both ways.
DASHSCOPE_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("qwen-plus", 131_072, 8_192, note="model.qwen_balanced"),
    ModelInfo("qwen-turbo", 1_000_000, 8_192, note="model.qwen_fast"),
    ModelInfo("qwen-max", 32_768, 8_192, note="model.qwen_flagship"),
    ModelInfo("glm-4.5", 131_072, 16_384, stream_only=True, note="model.glm_on_dashscope"),
    ModelInfo("glm-4.5-air", 131_072, 16_384, stream_only=True, note="model.glm_on_dashscope"),
    ModelInfo("chatglm3-6b", 8_000, 1_500, stream_only=True, note="model.chatglm3_6b_seed_004"),
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("openai", "endpoint.openai", "https://api.openai.com/v1", ("OPENAI_API_KEY",),
             OPENAI_MODELS, family="openai"),
    Endpoint("zhipu_compat", "endpoint.zhipu_compat", ZHIPU_BASE_URL + "/",
             ("ZHIPUAI_API_KEY", "OPENAI_API_KEY"), GLM_MODELS, family="glm"),
    Endpoint("dashscope", "endpoint.dashscope", "https://dashscope.aliyuncs.com/compatible-mode/v1",
             ("DASHSCOPE_API_KEY", "OPENAI_API_KEY"), DASHSCOPE_MODELS, family="dashscope"),
    Endpoint("custom", "endpoint.custom", "http://127.0.0.1:8000/v1", ("OPENAI_API_KEY",), (),
             key_required=False, base_url_editable=True, family="generic"),
)


def openai_schema(model: ModelInfo, family: str) -> ParamSchema:
    """OpenAI's ranges, with penalties and seed only where the endpoint takes them."""
    max_out = model.max_output or 131_072
    temperature_max = 1.99 if family == "dashscope" else 2.0  # DashScope: [0, 2)
    specs = [
        ParamSpec("temperature", ParamKind.FLOAT, 1.0 if family != "dashscope" else 0.7,
                  0.0, temperature_max, 0.01),
        ParamSpec("top_p", ParamKind.FLOAT, 1.0 if family != "dashscope" else 0.8,
                  0.01 if family == "dashscope" else 0.0, 1.0, 0.01),
        ParamSpec("max_tokens", ParamKind.INT, min(2048, max_out), 1, max_out, 1),
        ParamSpec("stop", ParamKind.STOP, [], max_items=4),
        ParamSpec("presence_penalty", ParamKind.FLOAT, 0.0, -2.0, 2.0, 0.1),
    ]
    if family != "dashscope":
        specs.append(ParamSpec("frequency_penalty", ParamKind.FLOAT, 0.0, -2.0, 2.0, 0.1))
    specs.append(ParamSpec("seed", ParamKind.INT, None, 0, 2**31 - 1, 1, optional=True))
    return ParamSchema(tuple(specs))

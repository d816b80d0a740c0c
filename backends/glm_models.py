"""GLM's models and parameter rules, shared by the zhipuai SDK and Zhipu's OpenAI-compatible URL."""

from __future__ import annotations

from typing import Any

from backends.base import ModelInfo
from core.parameters import ParamKind, ParamSchema, ParamSpec

ZHIPU_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"

GLM_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("glm-4-plus", 128_000, 4_095, note="model.glm_4_flagship"),
    ModelInfo("glm-4-air", 128_000, 4_095, note="model.fast_low_cost"),
    ModelInfo("glm-4-airx", 8_000, 4_095, note="model.fastest_glm_4"),
    ModelInfo("glm-4-flash", 128_000, 4_095, note="model.free_tier"),
    ModelInfo("glm-4-long", 1_000_000, 4_095, note="model.1m_context"),
    ModelInfo("glm-4.5", 128_000, 96_000, note="model.reasoning_agents"),
    ModelInfo("glm-4.5-air", 128_000, 96_000, note="model.reasoning_lower_cost"),
    ModelInfo("glm-4.6", 200_000, 128_000, note="model.latest_flagship"),
    ModelInfo("glm-4-0520", 128_000, 4_095, note="model.seed_demo_model"),
    ModelInfo("charglm-3", 4_000, 2_048, note="model.role_play"),
)

CUSTOM_MAX_OUTPUT = 131_072  # an unknown model id: let the server judge


def _clamp_temperature(value: Any, values: dict[str, Any]) -> tuple[Any, str] | None:
    """What the zhipuai SDK really sends (it rewrites these silently)."""
    if not values.get("do_sample", True):
        return None
    if value <= 0:
        return 0.01, "adjust.zhipu_temperature_zero"
    if value >= 1:
        return 0.99, "adjust.zhipu_temperature_one"
    return None


def _clamp_top_p(value: Any, values: dict[str, Any]) -> tuple[Any, str] | None:
    if not values.get("do_sample", True):
        return None
    if value >= 1:
        return 0.99, "adjust.zhipu_top_p_one"
    if value <= 0:
        return 0.01, "adjust.zhipu_top_p_zero"
    return None


def glm_schema(model: ModelInfo, sdk_clamps: bool) -> ParamSchema:
    """GLM's real ranges; `sdk_clamps` when the zhipuai SDK will rewrite temperature and top_p."""
    max_out = model.max_output or CUSTOM_MAX_OUTPUT
    return ParamSchema((
        ParamSpec("temperature", ParamKind.FLOAT, 0.95, 0.0, 1.0, 0.01,
                  effective=_clamp_temperature if sdk_clamps else None, ignored_unless="do_sample"),
        ParamSpec("top_p", ParamKind.FLOAT, 0.7, 0.01, 1.0, 0.01, help_key="param.top_p_help_glm",
                  effective=_clamp_top_p if sdk_clamps else None, ignored_unless="do_sample"),
        ParamSpec("do_sample", ParamKind.BOOL, True),
        ParamSpec("max_tokens", ParamKind.INT, min(1024, max_out), 1, max_out, 1),
        ParamSpec("stop", ParamKind.STOP, [], max_items=1, help_key="param.stop_help_glm"),
    ))

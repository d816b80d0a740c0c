"""The local model's parameters: the sampling knobs of `model.generate` and a context budget."""

from __future__ import annotations

from core.parameters import ParamKind, ParamSchema, ParamSpec

DEFAULT_BUDGET = 4096  # tokens of prompt + answer when the model's own window is not known yet
MAX_BUDGET = 131_072  # GLM-4-9B-chat-hf and GLM-4-0414 take 128K
MIN_BUDGET = 64


def local_schema(context_window: int | None = None) -> ParamSchema:
    """The parameters for a model whose window is `context_window` tokens (None: not loaded yet)."""
    window = max(MIN_BUDGET, context_window or MAX_BUDGET)
    budget = min(DEFAULT_BUDGET, window)
    return ParamSchema((
        ParamSpec("temperature", ParamKind.FLOAT, 0.8, 0.01, 2.0, 0.01, ignored_unless="do_sample"),
        ParamSpec("top_p", ParamKind.FLOAT, 0.8, 0.01, 1.0, 0.01, ignored_unless="do_sample"),
        ParamSpec("top_k", ParamKind.INT, 0, 0, 1000, 1, help_key="param.top_k_help",
                  ignored_unless="do_sample"),
        ParamSpec("do_sample", ParamKind.BOOL, True),
        ParamSpec("repetition_penalty", ParamKind.FLOAT, 1.0, 1.0, 2.0, 0.01),
        ParamSpec("max_new_tokens", ParamKind.INT, min(512, budget // 2), 1, window - 1, 1),
        ParamSpec("context_budget", ParamKind.INT, budget, MIN_BUDGET, window, 64),
    ))

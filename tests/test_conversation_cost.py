"""The chat page's running cost line: after an answer, in both languages, and what it leaves out."""

from __future__ import annotations

import os
from pathlib import Path

from components.conversation_cost import cost_line
from core.pricing import Price, PriceTable
from core.pricing_display import conversation_summary, format_money
from tests.apptest_helpers import assert_ok, conversation, en, send, start
from tests.fake_llm import FakeLLMServer

SHIPPED = PriceTable.shipped()


def main_captions(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.value for c in at.main.caption]


def cost_captions(at, lang: str = "en") -> list[str]:  # type: ignore[no-untyped-def]
    start_text = {"en": "This conversation so far", "zh": "本次对话累计"}[lang]
    return [c for c in main_captions(at) if c.startswith(start_text)]


def test_running_cost_after_one_answer(zhipu_env: FakeLLMServer) -> None:
    at = start()
    assert cost_captions(at) == []  # no answer yet: nothing is shown
    send(at, "hello there")
    # glm-4-plus at 5 CNY / 1M: (6 prompt + 3 completion) x 5 / 1M = 0.000045 CNY.
    assert cost_captions(at) == [en("pricing.conversation.cost", cost="¥0.000045", tokens="9")]
    assert cost_captions(at) == ["This conversation so far: ¥0.000045 (9 tokens)"]
    send(at, "two")  # the second answer adds to the first
    stats = [m.stats for m in conversation(at).messages if m.stats]
    assert len(stats) == 2
    tokens = sum(s["usage"]["prompt_tokens"] + s["usage"]["completion_tokens"] for s in stats)
    assert tokens > 9
    assert cost_captions(at) == [en("pricing.conversation.cost", cost=format_money(tokens * 5 / 1e6, "CNY"),
                                    tokens=f"{tokens:,}")]


def test_running_cost_in_chinese_and_after_a_price_edit(zhipu_env: FakeLLMServer) -> None:
    at = start(locale="zh-CN")
    send(at, "hello there")
    assert cost_captions(at, "zh") == ["本次对话累计：¥0.000045（9 tokens）"]
    # A price saved on the Usage & cost page is used at the next run (the file changed).
    data_dir = Path(os.environ["PLAYGROUND_DATA_DIR"])
    PriceTable((Price("glm-4-plus", "USD", 1.0, 2.0),), 7.0).save(data_dir)
    at.run()
    assert_ok(at)
    # 6 x 1 / 1M + 3 x 2 / 1M = 0.000012 USD: every priced answer is in USD, so $.
    assert cost_captions(at, "zh") == ["本次对话累计：\\$0.000012（9 tokens）"]


def test_clear_hides_the_line(zhipu_env: FakeLLMServer) -> None:
    at = start()
    send(at, "hello there")
    assert cost_captions(at)
    at.button(key="chat.clear").click().run()
    assert_ok(at)
    assert cost_captions(at) == []


def test_a_model_without_a_price_is_named(zhipu_env: FakeLLMServer) -> None:
    data_dir = Path(os.environ["PLAYGROUND_DATA_DIR"])
    PriceTable((Price("gpt-4o", "USD", 2.5, 10.0),), 7.2).save(data_dir)  # no glm-4-plus row
    at = start()
    send(at, "hello there")
    assert cost_captions(at) == [
        "This conversation so far: 9 tokens · no price for glm-4-plus: add it on the Usage & cost page"]


# ---- the line itself ------------------------------------------------------------------------------
def answer(model: str, prompt: int | None, completion: int = 0) -> dict:
    return {"model": model, "usage": None if prompt is None else
            {"prompt_tokens": prompt, "completion_tokens": completion}}


def test_cost_line_parts() -> None:
    stats = [answer("glm-4-plus", 1_000, 2_000), answer("glm-4.6", 100, 134), answer("my_model", 1, 1),
             answer("glm-4-plus", None)]
    line = cost_line(conversation_summary(stats, SHIPPED), "en")
    assert line == ("This conversation so far: ¥0.0150 (3,236 tokens) · no price for glm-4.6, my\\_model: "
                    "add it on the Usage & cost page · 1 answer(s) without a token count not included")
    zh = cost_line(conversation_summary(stats, SHIPPED), "zh")
    assert zh.startswith("本次对话累计：¥0.0150（3,236 tokens） · glm-4.6, my\\_model 没有价格")
    usd = cost_line(conversation_summary([answer("gpt-4o", 1_000_000, 500_000)], SHIPPED), "en")
    assert usd == "This conversation so far: \\$7.50 (1,500,000 tokens)"
    free = cost_line(conversation_summary([answer("glm-4-flash", 10, 10)], SHIPPED), "en")
    assert free == "This conversation so far: ¥0 (20 tokens)"

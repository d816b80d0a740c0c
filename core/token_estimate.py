"""A rough token count for calls whose backend reported no usage (the ledger flags it as estimated).

The rule, the same for every model (no tokenizer is loaded):

- every CJK character (Chinese, Japanese kana, Korean hangul, full-width forms and punctuation)
  counts as one token: GLM's and GPT's tokenizers spend about one token per Chinese character;
- every other character counts as a quarter of a token (about four characters of English per
  token), and their sum is rounded up;
- a list of chat messages adds MESSAGE_OVERHEAD tokens per message for its role and separators.

It is meant for sums over many calls, not to bill one call: the ledger keeps `tokens_estimated`
on every row it fills this way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

MESSAGE_OVERHEAD = 4  # role, start and end markers of one chat message

_CJK = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3200-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f]"
)


def estimate_tokens(text: str | None) -> int:
    """CJK characters x 1 + other characters / 4, rounded up; 0 for no text."""
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or OpenAI-style parts with "text"."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, Mapping))
    return "" if content is None else str(content)


def estimate_messages_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """The prompt tokens of chat messages: each message's text plus MESSAGE_OVERHEAD."""
    return sum(estimate_tokens(content_text(m.get("content"))) + MESSAGE_OVERHEAD for m in messages)

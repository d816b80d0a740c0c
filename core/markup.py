"""Text someone typed (a name, a model id, a reason) inside a Markdown string, shown as typed: no
emphasis, links, HTML or math ("$") come from it. Pure Python, for every page."""

from __future__ import annotations

import re

_MARKUP = re.compile(r"([\\`*_\[\]<>#|~$])")


def md(text: str) -> str:
    """`text` with every character that Markdown (or Streamlit's math) would act on escaped."""
    return _MARKUP.sub(r"\\\1", text)

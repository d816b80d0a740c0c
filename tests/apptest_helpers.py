"""Helpers for AppTest tests of the Chat page: start the router app, send, read what is shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from core.i18n import t
from core.messages import Conversation

APP = Path(__file__).resolve().parents[1] / "app.py"
CONV_KEY = "chat.conversation"


def start(locale: str | None = "en-US") -> AppTest:
    """Run the router app (shared sidebar + Chat page) once; the browser's locale is `locale`."""
    at = AppTest.from_file(str(APP), default_timeout=30)
    if locale is not None:
        at.context["locale"] = locale
    at.run()
    assert_ok(at)
    return at


def assert_ok(at: AppTest) -> None:
    """No uncaught exception was drawn by the app."""
    assert not at.exception, [e.value for e in at.exception]


def en(key: str, **values: Any) -> str:
    """The catalogue's English text (the tests start the app with an en-US browser)."""
    return t(key, "en", **values)


def send(at: AppTest, text: str) -> AppTest:
    """Type `text` in the chat input and press Enter."""
    at.chat_input(key="chat.input").set_value(text).run()
    assert_ok(at)
    return at


def click(at: AppTest, key: str) -> AppTest:
    """Press the button with this key (main area or sidebar) and run."""
    at.button(key=key).click().run()
    assert_ok(at)
    return at


def conversation(at: AppTest) -> Conversation:
    return at.session_state[CONV_KEY]


def stored(at: AppTest) -> list[tuple[str, str]]:
    """The conversation as kept in session state: (role, text) pairs."""
    return [(m.role.value, m.content) for m in conversation(at).messages]


def shown(at: AppTest) -> list[tuple[str, str]]:
    """The chat messages as drawn: (role, markdown text) pairs."""
    out = []
    for message in at.chat_message:
        texts = [md.value for md in message.markdown]
        out.append((message.name, "\n".join(texts)))
    return out


def captions(message: Any) -> list[str]:
    return [c.value for c in message.caption]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def one_error(at: AppTest) -> str:
    """The single st.error on the page."""
    found = errors(at)
    assert len(found) == 1, found
    return found[0]


def sent_messages(llm: Any) -> list[dict[str, str]]:
    """The messages of the last request the fake server received."""
    return llm.requests[-1]["json"]["messages"]


def message_ids(at: AppTest) -> list[str]:
    return [m.id for m in conversation(at).messages]


def nodes(node: Any) -> Iterator[Any]:
    """Every element and block under `node`, depth first."""
    yield node
    for child in getattr(node, "children", {}).values():
        yield from nodes(child)


def rendered_text(at: AppTest) -> str:
    """Everything the rendered app carries to the browser: every element's proto, as text."""
    parts = []
    for root in (at.main, at.sidebar, *at.chat_input):
        for node in nodes(root):
            proto = getattr(node, "proto", None)
            if proto is not None:
                parts.append(str(proto))
            value = getattr(node, "value", None)
            if isinstance(value, str):
                parts.append(value)
    return "\n".join(parts)

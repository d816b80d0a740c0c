"""The conversation: roles, messages and the edits the chat page makes, checked before a call."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import ErrorKind, PlaygroundError


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class Message:
    """One message. `stats` holds the answer's record (model, timing, tokens) for assistant turns."""

    role: Role
    content: str
    id: str = field(default_factory=_new_id)
    stats: dict[str, Any] | None = None
    stopped: bool = False  # the user stopped it, or the stream broke: the text is partial

    def to_api(self) -> dict[str, str]:
        return {"role": self.role.value, "content": self.content}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["role"] = self.role.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(role=Role(data["role"]), content=str(data.get("content", "")),
                   id=data.get("id") or _new_id(), stats=data.get("stats"),
                   stopped=bool(data.get("stopped", False)))


@dataclass
class Conversation:
    """A system prompt and an editable list of user / assistant messages."""

    system: str = ""
    messages: list[Message] = field(default_factory=list)

    def add(self, role: Role, content: str = "") -> Message:
        message = Message(role=role, content=content)
        self.messages.append(message)
        return message

    def index(self, message_id: str) -> int:
        for i, message in enumerate(self.messages):
            if message.id == message_id:
                return i
        raise KeyError(message_id)

    def find(self, message_id: str) -> Message | None:
        return next((m for m in self.messages if m.id == message_id), None)

    def edit(self, message_id: str, content: str) -> None:
        message = self.messages[self.index(message_id)]
        message.content = content

    def set_role(self, message_id: str, role: Role) -> None:
        self.messages[self.index(message_id)].role = role

    def toggle_role(self, message_id: str) -> None:
        message = self.messages[self.index(message_id)]
        message.role = Role.ASSISTANT if message.role is Role.USER else Role.USER

    def delete(self, message_id: str) -> None:
        del self.messages[self.index(message_id)]

    def move(self, message_id: str, offset: int) -> None:
        """Move a message up (-1) or down (+1); at either end nothing happens."""
        i = self.index(message_id)
        j = i + offset
        if 0 <= j < len(self.messages):
            self.messages[i], self.messages[j] = self.messages[j], self.messages[i]

    def clear(self) -> None:
        self.messages.clear()

    def drop_last_answer(self) -> Message | None:
        """For regenerate: remove the trailing assistant message, if any, and return it."""
        if self.messages and self.messages[-1].role is Role.ASSISTANT:
            return self.messages.pop()
        return None

    def to_api(self) -> list[dict[str, str]]:
        """The messages as sent: the system prompt first when it has text."""
        out = [{"role": "system", "content": self.system}] if self.system.strip() else []
        return out + [m.to_api() for m in self.messages]

    def to_dict(self) -> dict[str, Any]:
        return {"system": self.system, "messages": [m.to_dict() for m in self.messages]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversation:
        return cls(system=str(data.get("system", "")),
                   messages=[Message.from_dict(m) for m in data.get("messages", [])])


def _is_blank(content: Any) -> bool:
    """No text to send: None, whitespace, or an empty list of (multimodal) parts."""
    return not content.strip() if isinstance(content, str) else not content


def check_sendable(api_messages: list[dict[str, str]]) -> None:
    """Refuse, with a fix the user can make, what a provider would reject or answer badly."""
    if not api_messages:
        raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "validation.no_messages"})
    offset = 0 if api_messages[0].get("role") == "system" else 1  # number as the editor shows
    for i, message in enumerate(api_messages):
        if _is_blank(message.get("content")):
            raise PlaygroundError(ErrorKind.VALIDATION, params={
                "key": "validation.empty_message", "position": i + offset,
                "role": message.get("role")})
    roles = [m.get("role") for m in api_messages]
    if all(r == "system" for r in roles):
        raise PlaygroundError(ErrorKind.VALIDATION, code="1214",
                              params={"key": "validation.only_system"})
    if "user" not in roles:
        raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "validation.no_user_message"})
    if roles[-1] != "user":
        raise PlaygroundError(ErrorKind.VALIDATION, params={"key": "validation.last_not_user"})

"""The open conversation saved on disk, so a browser refresh or a restart loses nothing."""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from pathlib import Path

from core.messages import Conversation

_ID = re.compile(r"^[0-9a-f]{16,32}$")


def new_conversation_id() -> str:
    return uuid.uuid4().hex


def valid_id(conversation_id: str | None) -> bool:
    """Only ids we make are accepted: nothing from a URL can name another path."""
    return bool(conversation_id and _ID.match(conversation_id))


class ConversationStore:
    """One JSON file per conversation under `<data_dir>/conversations/`. No API keys in it."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / "conversations"

    def _path(self, conversation_id: str) -> Path:
        if not valid_id(conversation_id):
            raise ValueError("invalid conversation id")
        return self.root / f"{conversation_id}.json"

    def load(self, conversation_id: str | None) -> Conversation | None:
        """The saved conversation, or None when there is none or it cannot be read."""
        if not valid_id(conversation_id):
            return None
        try:
            data = json.loads(self._path(conversation_id).read_text(encoding="utf-8"))
            return Conversation.from_dict(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, conversation_id: str, conv: Conversation) -> bool:
        """Write atomically (a crash never leaves half a file); False if the disk refused."""
        path = self._path(conversation_id)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            payload = json.dumps(conv.to_dict(), ensure_ascii=False, indent=1)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(payload)
            os.replace(tmp, path)
            return True
        except OSError:
            return False

    def delete(self, conversation_id: str) -> None:
        try:
            self._path(conversation_id).unlink(missing_ok=True)
        except (OSError, ValueError):
            pass

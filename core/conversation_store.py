"""The open conversation saved on disk, so a browser refresh or a restart loses nothing.

In a team deployment every conversation has an owner: a signed-in user's conversations live in a
folder of their own (`conversations/users/<hash of the user id>/`) and name the owner inside, so
another user's ?c=<id> finds nothing. Without sign-in (owner "") they are in `conversations/`.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any

from core.atomic_file import write_text_atomic
from core.messages import Conversation

_ID = re.compile(r"^[0-9a-f]{16,32}$")


def new_conversation_id() -> str:
    return uuid.uuid4().hex


def valid_id(conversation_id: str | None) -> bool:
    """Only ids we make are accepted: nothing from a URL can name another path."""
    return bool(conversation_id and _ID.match(conversation_id))


USERS_DIR = "users"


def owner_folder(owner: str) -> str:
    """The folder name of a user's conversations: a hash, so no user id can name a path."""
    return hashlib.sha256(owner.encode("utf-8")).hexdigest()[:32]


class ConversationStore:
    """One JSON file per conversation under `<data_dir>/conversations/` (or the owner's folder in
    it). No API keys in it."""

    def __init__(self, data_dir: Path, owner: str = "") -> None:
        self.base = Path(data_dir) / "conversations"
        self.owner = owner
        self.root = self.base / USERS_DIR / owner_folder(owner) if owner else self.base

    def _path(self, conversation_id: str) -> Path:
        if not valid_id(conversation_id):
            raise ValueError("invalid conversation id")
        return self.root / f"{conversation_id}.json"

    def load(self, conversation_id: str | None) -> Conversation | None:
        """The saved conversation, or None when there is none or it cannot be read."""
        saved = self.load_with_settings(conversation_id)
        return saved[0] if saved else None

    def load_with_settings(self, conversation_id: str | None) -> tuple[Conversation, dict[str, Any]] | None:
        """The conversation and the sidebar settings saved with it ({} when none were)."""
        if not valid_id(conversation_id):
            return None
        try:
            data = json.loads(self._path(conversation_id).read_text(encoding="utf-8"))
            if str(data.get("owner") or "") != self.owner:
                return None  # not this user's, whatever folder it was found in
            settings = data.get("settings")
            return Conversation.from_dict(data), settings if isinstance(settings, dict) else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def save(self, conversation_id: str, conv: Conversation,
             settings: dict[str, Any] | None = None) -> bool:
        """Write atomically (a crash never leaves half a file); False if the disk refused.

        `settings` are the sidebar's choices (backend, model, parameters): never API keys.
        """
        path = self._path(conversation_id)
        try:
            data = conv.to_dict() | ({"settings": settings} if settings is not None else {})
            if self.owner:
                data["owner"] = self.owner
            write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=1))
            return True
        except (OSError, TypeError, ValueError):
            return False

    def held_elsewhere(self, conversation_id: str | None) -> bool:
        """True when a conversation with this id exists but is not this owner's (so the page can say
        "not found, or not yours" instead of silently starting afresh). Another's file is never read."""
        if not valid_id(conversation_id):
            return False
        name = f"{conversation_id}.json"
        places = [self.base / name, *(self.base / USERS_DIR).glob(f"*/{name}")]
        mine = self._path(conversation_id)
        return any(path != mine and path.is_file() for path in places) or (
            mine.is_file() and self.load(conversation_id) is None)

    def delete(self, conversation_id: str) -> None:
        try:
            self._path(conversation_id).unlink(missing_ok=True)
        except (OSError, ValueError):
            pass

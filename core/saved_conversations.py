"""The list of saved chat conversations: newest first, with a title the user may rename.

The conversations themselves are core/conversation_store.py's files; titles the user gave live
beside them in `titles.json` (written atomically), so the chat's autosave never overwrites one.
Only the newest files are read, and each only when it changed, so a long history costs the sidebar
little on every rerun.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.atomic_file import write_text_atomic
from core.conversation_store import ConversationStore, valid_id
from core.messages import Conversation

TITLES_FILE = "titles.json"
TITLE_LIMIT = 80
AUTO_TITLE_CHARS = 40


@dataclass(frozen=True)
class SavedConversation:
    id: str
    title: str  # the user's title, or the first words of the first message
    renamed: bool
    messages: int
    updated: float  # seconds since the epoch


def auto_title(system: str, first_message: str) -> str:
    """The first line of the first message (else the system prompt), shortened."""
    for text in (first_message, system):
        line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
        if line:
            return line if len(line) <= AUTO_TITLE_CHARS else line[:AUTO_TITLE_CHARS - 1] + "…"
    return ""


@lru_cache(maxsize=512)
def _summary(path: str, mtime_ns: int, size: int, owner: str) -> tuple[str, int] | None:
    """(automatic title, message count) of one file, read again only when it changes; None for a
    conversation with nothing in it, another owner's, or a file that cannot be read."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if str(data.get("owner") or "") != owner:
            return None
        conv = Conversation.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not conv.messages and not conv.system.strip():
        return None
    return auto_title(conv.system, conv.messages[0].content if conv.messages else ""), len(conv.messages)


class SavedConversations:
    """Listing, renaming and deleting one owner's conversations (everyone's without sign-in): the
    files of core/conversation_store.py's folder for that owner."""

    def __init__(self, data_dir: Path, owner: str = "") -> None:
        self.store = ConversationStore(data_dir, owner=owner) if owner else ConversationStore(data_dir)
        self.owner = owner
        self.root = self.store.root

    def titles(self) -> dict[str, str]:
        try:
            data = json.loads((self.root / TITLES_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if valid_id(k) and isinstance(v, str)} if isinstance(
            data, dict) else {}

    def _write_titles(self, titles: dict[str, str]) -> None:
        write_text_atomic(self.root / TITLES_FILE, json.dumps(titles, ensure_ascii=False, indent=1))

    def newest(self, limit: int = 20) -> list[SavedConversation]:
        """Up to `limit` conversations with at least one message or a system prompt, newest first."""
        try:
            entries = [e for e in os.scandir(self.root) if e.name.endswith(".json")
                       and valid_id(e.name[:-5]) and e.is_file()]
        except OSError:
            return []
        entries.sort(key=lambda e: e.stat().st_mtime, reverse=True)
        titles = self.titles()
        out: list[SavedConversation] = []
        for entry in entries:
            if len(out) >= limit:
                break
            cid = entry.name[:-5]
            stat = entry.stat()
            summary = _summary(entry.path, stat.st_mtime_ns, stat.st_size, self.owner)
            if summary is None:
                continue
            auto, count = summary
            out.append(SavedConversation(cid, titles.get(cid) or auto, cid in titles, count, stat.st_mtime))
        return out

    def rename(self, conversation_id: str, title: str) -> None:
        """Give a conversation a title; an empty one goes back to its first words. Raises OSError."""
        if not valid_id(conversation_id):
            raise ValueError("invalid conversation id")
        titles = self.titles()
        text = " ".join((title or "").split())[:TITLE_LIMIT]
        if text:
            titles[conversation_id] = text
        else:
            titles.pop(conversation_id, None)
        self._write_titles(titles)

    def delete(self, conversation_id: str) -> None:
        self.store.delete(conversation_id)
        titles = self.titles()
        if titles.pop(conversation_id, None) is not None:
            try:
                self._write_titles(titles)
            except OSError:
                pass  # the conversation is gone; a stale title for it is never listed

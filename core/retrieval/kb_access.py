"""Who may see and change a knowledge base in a team deployment: core/ownership.py's rules, as for
fine-tune datasets.

A knowledge base made by a signed-in user records its `owner` in kb.json and starts private
(`shared: false`); its owner may share it with the team. A store opened for a viewer sees their own,
the shared ones, and those made before sign-in existed (no owner: the whole team's). Only the owner
(anyone, for one without an owner) renames, deletes, (un)shares it or changes what it holds: its
documents, chunk and embedding settings, index and vectors. A teammate may search a shared one and
ask it questions; their ask settings, last answers and evaluation set are kept in a folder of their
own inside it (`work_dir`), so nothing of the owner's changes and the owner never sees their questions.
Without sign-in (viewer None) everyone sees and changes everything, as before owners existed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import PlaygroundError
from core.retrieval.errors import retrieval_error
from core.retrieval.storage import read_json, write_json_atomic

if TYPE_CHECKING:
    from core.retrieval.knowledge_base import KnowledgeBase

VIEWERS_DIR = "viewers"
ASK_FILE = "ask.json"
# Ask settings a teammate starts from: the owner's way of asking, never the owner's typed questions.
INHERITED_ASK = ("template", "method", "top_k", "threshold", "knowledge_id")


def not_owner(owner: str) -> PlaygroundError:
    return retrieval_error("retrieval.access.not_owner", owner=owner)


def viewer_folder(kb_dir: Path, viewer: str | None) -> Path:
    """A teammate's own folder inside a knowledge base; named by a hash, so no user id names a path."""
    digest = hashlib.sha256((viewer or "").encode("utf-8")).hexdigest()[:32]
    return Path(kb_dir) / VIEWERS_DIR / digest


def work_dir(kb: KnowledgeBase) -> Path:
    """Where this viewer's ask settings, last answers and evaluation live: the knowledge base's own
    folder for whoever may change it, a folder of their own for a teammate."""
    return kb.dir if kb.can_manage else viewer_folder(kb.dir, kb.viewer)


def work_file(kb: KnowledgeBase, name: str, fallback: bool = False) -> Path:
    """The file `name` in this viewer's work_dir; with `fallback`, the knowledge base's own until the
    teammate has saved a copy of theirs (an evaluation set they start from)."""
    own = work_dir(kb) / name
    return kb.dir / name if fallback and not own.exists() else own


def load_ask(kb: KnowledgeBase) -> dict[str, Any]:
    """The saved ask settings (template, method, top-k, threshold, questions, cloud knowledge_id)."""
    saved = kb.meta().get("ask")
    settings = saved if isinstance(saved, dict) else {}
    if kb.can_manage:
        return dict(settings)
    own = read_json(work_dir(kb) / ASK_FILE, {})
    inherited = {k: v for k, v in settings.items() if k in INHERITED_ASK}
    return inherited | (own if isinstance(own, dict) else {})


def save_ask(kb: KnowledgeBase, settings: dict[str, Any]) -> None:
    """Write the ask settings when they changed: into kb.json for whoever may change the knowledge
    base, into the teammate's own folder otherwise. Raises OSError."""
    if load_ask(kb) == settings:
        return
    if kb.can_manage:
        kb.update_meta(ask=dict(settings))
    else:
        write_json_atomic(work_dir(kb) / ASK_FILE, dict(settings))

"""Who may see and change what a signed-in user made and may share with the team (fine-tune
datasets, knowledge bases): one rule for all of them.

A thing made with sign-in records its `owner` and whether it is `shared`. A viewer sees their own,
the shared ones, and those made before sign-in existed (no owner: the whole team's). Only the owner
(anyone, for one without an owner) changes, renames, deletes or (un)shares it. Without sign-in
(viewer None) everyone sees and changes everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def ownership(meta: Mapping[str, Any]) -> tuple[str, bool]:
    """(owner, shared) from stored meta data; something from before owners has neither."""
    owner = meta.get("owner")
    return (owner if isinstance(owner, str) else ""), meta.get("shared") is True


def visible(viewer: str | None, owner: str, shared: bool) -> bool:
    return viewer is None or not owner or owner == viewer or shared


def can_manage(viewer: str | None, owner: str) -> bool:
    """Change, rename, delete, share: the owner's (anyone's for something without an owner)."""
    return viewer is None or not owner or owner == viewer

"""Who is using this browser session, for every page: the user id that usage rows, conversations
and datasets carry, whether they are an admin, and whether their next call is within their limits.

The access gate (components/access_gate.py) sets the identity at the top of every run, before any
page; without sign-in the user id is "" and everyone sees everything, as before access existed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import streamlit as st

from components.backend_picker import load_settings
from core.access import AccessConfigError
from core.errors import ErrorKind, PlaygroundError

IDENTITY_KEY = "access.identity"
TYPED = "typed"  # Selection.key_source of a key the user typed: their own money, never limited
log = logging.getLogger("playground.access")


@dataclass(frozen=True)
class Identity:
    user: str = ""  # "" when the app has no sign-in
    method: str = ""  # "user" (own password), "shared" (the team's password), "oidc", "" (none)
    admin: bool = True  # without sign-in nobody is told apart: everyone sees everything
    required: bool = False  # whether this app asks people to sign in


OPEN = Identity()


def identity() -> Identity:
    found = st.session_state.get(IDENTITY_KEY)
    return found if isinstance(found, Identity) else OPEN


def current_user_id() -> str:
    """The signed-in user's id ("" when the app has no sign-in)."""
    return identity().user


def is_admin() -> bool:
    """Admins see everyone's usage; without sign-in everyone does."""
    return identity().admin


def owner_id() -> str | None:
    """The owner of what this session saves (datasets): None when the app has no sign-in, so
    that nothing is hidden from anyone there."""
    ident = identity()
    return ident.user if ident.required else None


def limit_refusal(key_source: str | None) -> PlaygroundError | None:
    """Why the next call may not be sent on the server's key (over a limit, or limits that cannot
    be checked), as a "not sent" error with the reset time; None when it may. A key the user typed
    is theirs: never limited (the call is still recorded)."""
    if key_source == TYPED:
        return None
    from core.limits import load_limits

    settings = load_settings()
    try:
        config = load_limits(settings)
    except AccessConfigError as err:  # the gate refuses such settings; they changed since
        return PlaygroundError(ErrorKind.VALIDATION, params={"key": "limits.unreadable", "where": err.where})
    if not config.configured:
        return None
    from core.limits import check, message_params

    user, now = current_user_id(), datetime.now(UTC)
    try:
        from core.pricing import PriceTable
        from core.usage_ledger import ledger_for

        convert = PriceTable.load_cached(settings.data_dir).convert
        over = check(user, ledger_for(settings), now, config, convert)
    except Exception as exc:  # no usage figures, no way to keep the limits: not sent
        log.warning("limits: usage of a user could not be read (%s); call not sent", type(exc).__name__)
        return PlaygroundError(ErrorKind.VALIDATION, params={"key": "limits.unchecked"})
    if over is None:
        return None
    log.info("limits: %s reached %s", user or "(no sign-in)", over.limit)
    return PlaygroundError(ErrorKind.VALIDATION, params=message_params(over, now))

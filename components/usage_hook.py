"""What every page needs to record its model calls in the usage ledger: the ledger (or why there is
none, kept for the Usage & cost page), the price table's cost function, and the call's context:
session, page, user and whose key paid. Without a ledger the pages still work.

SQLAlchemy and the price table are imported only once a call is made, not to draw a page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import streamlit as st

from components.backend_picker import Selection, load_settings
from components.identity import TYPED, current_user_id
from components.state import durable

if TYPE_CHECKING:
    from core.call_cost import Price
    from core.chat import ChatRecord, ChatRequest
    from core.usage_ledger import Ledger
    from core.usage_recording import CallContext

SESSION_ID_KEY = "usage.session_id"  # this browser session's id in the usage ledger
LEDGER_ERROR_KEY = "usage.ledger_error"  # LedgerUnavailable when calls cannot be recorded
STORE_TEXT_KEY = "usage.store_text"  # True: the ledger keeps the messages (the Usage page's switch)

Hook = Callable[["ChatRecord"], None]


def open_ledger() -> Ledger | None:
    """The usage ledger, or None when it cannot be opened (the reason kept for the Usage page)."""
    from core.usage_ledger import LedgerUnavailable, ledger_for

    try:
        ledger = ledger_for(load_settings())
    except LedgerUnavailable as err:
        st.session_state[LEDGER_ERROR_KEY] = err
        return None
    except Exception:  # whatever goes wrong with the ledger, the answer is still asked for
        return None
    st.session_state.pop(LEDGER_ERROR_KEY, None)
    return ledger


def price_of() -> Price | None:
    """The price table's cost function, or None when no table can be read (calls go unpriced)."""
    try:
        from core.pricing import PriceTable

        return PriceTable.load_cached(load_settings().data_dir).cost
    except Exception:
        return None


def payer_of(key_source: str | None) -> str:
    """The ledger's paid_by for a key source: the user's own typed key, or the server's ("")."""
    from core.usage_schema import PAID_BY_USER

    return PAID_BY_USER if key_source == TYPED else ""


def call_context(page: str, backend: str, endpoint: str, base_url: str | None, payer: str) -> CallContext:
    """Who makes this call, from which page, to where, and on whose key (`payer`: payer_of()'s
    answer; never the key itself)."""
    from core.usage_recording import CallContext

    return CallContext(session_id=durable(SESSION_ID_KEY, lambda: uuid.uuid4().hex), page=page,
                       backend=backend, endpoint=endpoint, base_url=base_url or "",
                       store_text=st.session_state.get(STORE_TEXT_KEY) is True, user_id=current_user_id(),
                       paid_by=payer)


def chat_recorder(ledger: Ledger | None, context: CallContext, request: ChatRequest,
                  price: Price | None) -> Hook:
    """The hook a stream calls once with its final record, writing the call to the ledger; a
    failure to write is kept for the Usage & cost page, never raised into the answer."""
    from core.usage_recording import recorder

    def failed(reason: Any) -> None:
        st.session_state[LEDGER_ERROR_KEY] = reason

    return recorder(ledger, context, request, price, on_failure=failed)


def call_recorder(page: str, sel: Selection, request: ChatRequest) -> Hook:
    """The ledger hook of one call on the sidebar's selection, everything looked up now."""
    context = call_context(page, sel.backend.id, sel.endpoint.id, sel.connection.base_url,
                           payer_of(sel.key_source))
    return chat_recorder(open_ledger(), context, request, price_of())

"""Limits on the chat page (AppTest + the fake server): checked before sending, nothing sent when over,
the message kept, the reset time said; a typed key is not limited; every row carries the user."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from core.config import Settings
from core.usage_ledger import Ledger, UsageFilter, clear_ledger_cache
from core.usage_schema import PAID_BY_USER
from tests.apptest_helpers import en, errors, send, stored
from tests.test_access_gate import HASHES, TEAM, make, run, serves_app, sign_in
from tests.test_usage_ledger import make_row


@pytest.fixture(autouse=True)
def _fresh_ledgers() -> Iterator[None]:
    clear_ledger_cache()
    yield
    clear_ledger_cache()


def ledger_rows() -> list[Any]:
    ledger = Ledger.open(Settings.load())
    try:
        return ledger.rows(UsageFilter())
    finally:
        ledger.close()


def signed_in(name: str, limits: dict[str, Any] | None = None) -> Any:
    secrets: dict[str, Any] = {"access": {"password_hash": HASHES["team"]}}
    if limits:
        secrets["limits"] = limits
    at = sign_in(run(make(secrets)), name, TEAM)
    assert serves_app(at)
    return at


def test_over_the_rpm_limit_nothing_is_sent_and_the_message_is_kept(zhipu_env: Any) -> None:
    at = signed_in("Carol", {"requests_per_minute": 1})
    send(at, "first question")
    assert stored(at)[-1] == ("assistant", "Echo: first question")
    sent = len(zhipu_env.requests)
    send(at, "second question")
    assert len(zhipu_env.requests) == sent  # nothing reached the provider
    assert stored(at)[-1] == ("user", "second question")  # the typed message is kept
    [shown] = errors(at)
    assert en("error.validation.title") in shown and "limit of 1 requests per minute" in shown
    assert "You can send again at" in shown and "(UTC)" in shown
    assert en("chat.retry_hint") in [c.value for c in at.caption]
    rows = ledger_rows()
    assert [(r.user_id, r.outcome) for r in rows] == [("carol", "ok")]  # the refusal is no call


def test_a_typed_key_is_not_limited_but_still_recorded(zhipu_env: Any) -> None:
    at = signed_in("dora", {"requests_per_minute": 1})
    send(at, "on the server's key")
    send(at, "refused")
    assert errors(at) and stored(at)[-1] == ("user", "refused")
    at.text_input(key="widget.api_key.ZHIPUAI_API_KEY").set_value("my-own-key-12345678").run()
    at.button(key="chat.run").click().run()
    assert not errors(at) and stored(at)[-1] == ("assistant", "Echo: refused")
    assert zhipu_env.requests[-1]["headers"].get("authorization", "").endswith("my-own-key-12345678")
    newest_first = [(r.user_id, r.paid_by) for r in ledger_rows()]
    assert newest_first == [("dora", PAID_BY_USER), ("dora", "")]


def test_the_tokens_of_the_day_are_the_users_own(zhipu_env: Any) -> None:
    seeded = Ledger.open(Settings.load())
    seeded.record_many([make_row(ts=datetime.now(UTC), user_id="erin", total_tokens=500),
                        make_row(ts=datetime.now(UTC), user_id="finn", total_tokens=499)])
    seeded.close()
    clear_ledger_cache()
    erin = signed_in("erin", {"tokens_per_day": 500})
    send(erin, "anything")
    [shown] = errors(erin)
    assert "500 of your 500 tokens for today" in shown and "resets at" in shown
    assert stored(erin) == [("user", "anything")] and not zhipu_env.requests
    finn = signed_in("finn", {"tokens_per_day": 500})
    send(finn, "one more")  # 499 < 500: sent
    assert stored(finn)[-1] == ("assistant", "Echo: one more") and not errors(finn)


def test_limits_that_cannot_be_checked_send_nothing(zhipu_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_DB_URL", "postgresql+nosuchdriver://u:pw-secret@127.0.0.1:1/db")
    at = signed_in("gus", {"cost_per_month": 20})
    send(at, "hello")
    [shown] = errors(at)
    assert en("limits.unchecked") in shown and "pw-secret" not in shown
    assert not zhipu_env.requests and stored(at) == [("user", "hello")]


def test_without_limits_or_sign_in_calls_are_recorded_for_nobody(zhipu_env: Any) -> None:
    at = run(make())
    send(at, "open mode")
    assert stored(at)[-1] == ("assistant", "Echo: open mode")
    assert [r.user_id for r in ledger_rows()] == [""]

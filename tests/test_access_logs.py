"""What the server logs while people sign in, chat and hit limits: who and what happened, never a
password, an API key or a message's text (everything logged is captured and searched)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from core import access
from core.access import AttemptLimiter
from core.usage_ledger import clear_ledger_cache
from tests.apptest_helpers import errors, send
from tests.test_access_gate import ALICE, HASHES, TEAM, Clock, make, run, sign_in

TYPED_KEY = "sk-typed-9f8e7d6c5b4a"
SECRET_WORDS = ("orange-boat", "alice-secret", TYPED_KEY, "test.key", "a very private question",
                "Echo: a very private question", "refused question text")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    tick = Clock()
    monkeypatch.setattr(access, "LIMITER", AttemptLimiter(tick))
    return tick


@pytest.fixture(autouse=True)
def _fresh_ledgers() -> Iterator[None]:
    clear_ledger_cache()
    yield
    clear_ledger_cache()


def test_logs_name_users_and_events_but_hold_no_secret_or_text(zhipu_env: Any, clock: Clock,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = {"access": {"password_hash": HASHES["team"], "users": {"alice": HASHES["alice"]}},
               "limits": {"requests_per_minute": 1}}
    at = run(make(secrets))
    sign_in(at, "alice", "alice-secret-76")  # wrong
    sign_in(at, "mallory", "orange-boat-41")  # an unknown name, wrong: too soon, not checked
    clock.now += 60
    sign_in(at, "alice", ALICE)
    send(at, "a very private question")
    send(at, "refused question text")
    assert errors(at)  # over the limit
    at.text_input(key="widget.api_key.ZHIPUAI_API_KEY").set_value(TYPED_KEY).run()
    at.button(key="chat.run").click().run()
    bob = run(make(secrets))
    sign_in(bob, "bob", TEAM)
    text = caplog.text
    for word in SECRET_WORDS:
        assert word not in text, word
    assert HASHES["team"] not in text and HASHES["alice"] not in text
    assert "wrong password for alice" in text
    assert "alice signed in (own password)" in text and "bob signed in (team password)" in text
    assert "limits: alice reached requests_per_minute" in text
    assert "mallory" not in text  # a name nobody has may be a password typed in the wrong box
    assert TEAM not in text and ALICE not in text

"""The access gate in AppTest: open on 127.0.0.1, closed when exposed with a server key, password and
single sign-on sign-in, the growing wait, sign-out, expiry, changed access and broken settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.util import patch_config_options

from components.access_gate import NAME_KEY, PASSWORD_KEY, SIGNED_KEY
from components.identity import IDENTITY_KEY
from core import access
from core.access import AttemptLimiter, hash_password
from tests.apptest_helpers import APP, assert_ok, en, rendered_text

TEAM = "orange-boat-42"
ALICE = "alice-secret-77"
HASHES = {"team": hash_password(TEAM), "alice": hash_password(ALICE)}


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """A limiter of wrong passwords for this test alone, on a clock the test moves."""
    tick = Clock()
    monkeypatch.setattr(access, "LIMITER", AttemptLimiter(tick))
    yield tick


def team_secrets(**extra: Any) -> dict[str, Any]:
    return {"access": {"password_hash": HASHES["team"], "users": {"alice": HASHES["alice"]},
                       "admins": ["alice"], **extra}}


def make(secrets: dict[str, Any] | None = None, locale: str = "en-US") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.context["locale"] = locale
    if secrets:
        at.secrets.update(secrets)
    return at


def run(at: AppTest, address: str | None = None) -> AppTest:
    """One run, the server listening on `address` (the project's config says 127.0.0.1)."""
    if address is None:
        at.run()
    else:
        with patch_config_options({"server.address": address}):
            at.run()
    assert_ok(at)
    return at


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key=NAME_KEY).set_value(name)
    at.text_input(key=PASSWORD_KEY).set_value(password)
    submit = [b for b in at.button if b.form_id == "access.form"]
    assert len(submit) == 1
    submit[0].click()
    return run(at)


def serves_app(at: AppTest) -> bool:
    """The chat page and the sidebar are drawn."""
    return len(at.chat_input) == 1 and len(at.sidebar.children) > 0


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


# ---- when the gate asks at all --------------------------------------------------------------------
def test_on_loopback_with_nothing_configured_the_app_is_open(zhipu_env: Any) -> None:
    at = run(make())
    assert serves_app(at)
    assert at.session_state[IDENTITY_KEY].user == "" and at.session_state[IDENTITY_KEY].admin
    assert en("access.sign_out") not in rendered_text(at)


@pytest.mark.parametrize("address", ["0.0.0.0", "10.0.79.103", ""])
def test_exposed_with_a_server_key_and_no_access_serves_no_page(zhipu_env: Any, address: str) -> None:
    at = run(make(), address)
    assert not serves_app(at) and not at.chat_input and not at.sidebar.children
    assert [x.value for x in at.title] == [en("access.setup.title")]
    text = rendered_text(at)
    assert "ZHIPUAI_API_KEY" in text and "python -m core.access hash" in text and "[access.users]" in text
    assert "test.key" not in text  # the key's name, never the key
    zh = run(make(locale="zh-CN"), address)
    assert [x.value for x in zh.title] == ["请先配置访问控制"]


def test_exposed_without_a_server_key_everyone_brings_their_own(llm: Any) -> None:
    assert serves_app(run(make(), "0.0.0.0"))


# ---- passwords ------------------------------------------------------------------------------------
def test_refused_without_the_password_granted_with_it(zhipu_env: Any, clock: Clock) -> None:
    at = run(make(team_secrets()))
    assert not serves_app(at) and [x.value for x in at.title] == [en("access.title")]
    sign_in(at, "Carol", "orange-boat")
    assert not serves_app(at)
    assert warnings(at) == [en("access.wrong", seconds=1)]
    assert at.text_input(key=PASSWORD_KEY).value == ""  # the wrong password is not kept
    assert at.text_input(key=NAME_KEY).value == "Carol"  # the name is
    assert "orange-boat" not in rendered_text(at)
    sign_in(at, "Carol", TEAM)  # right, but within the second: not even checked
    assert not serves_app(at) and warnings(at) == [en("access.wait", seconds=1)]
    clock.now += 1
    sign_in(at, "Carol", TEAM)
    assert serves_app(at)
    ident = at.session_state[IDENTITY_KEY]
    assert (ident.user, ident.method, ident.admin, ident.required) == ("carol", "shared", False, True)
    sidebar = rendered_text(at)
    assert "carol" in sidebar and en("access.role_team") in sidebar and TEAM not in sidebar


def test_a_personal_password_signs_in_an_admin(zhipu_env: Any) -> None:
    at = sign_in(run(make(team_secrets())), "ALICE", ALICE)
    assert serves_app(at)
    ident = at.session_state[IDENTITY_KEY]
    assert (ident.user, ident.method, ident.admin) == ("alice", "user", True)
    assert en("access.role_admin") in rendered_text(at)
    again = sign_in(run(make(team_secrets())), "alice", TEAM)  # her name with the team password
    assert not serves_app(again)


def test_signing_out_ends_access_at_once_and_forgets_the_session(zhipu_env: Any) -> None:
    at = sign_in(run(make(team_secrets())), "dan", TEAM)
    at.text_input(key="widget.api_key.ZHIPUAI_API_KEY").set_value("sk-typed-by-dan-123456").run()
    at.chat_input[0].set_value("hello from dan").run()
    assert "picker.typed_keys" in at.session_state
    at.button(key="access.sign_out").click()
    run(at)
    assert not serves_app(at) and [x.value for x in at.title] == [en("access.title")]
    assert [i.value for i in at.info] == [en("access.signed_out")]
    for key in ("picker.typed_keys", "chat.conversation", IDENTITY_KEY, SIGNED_KEY):
        assert key not in at.session_state
    assert "c" not in at.query_params
    text = rendered_text(at)
    assert "sk-typed-by-dan" not in text and "hello from dan" not in text


def test_an_expired_sign_in_or_changed_access_asks_again(zhipu_env: Any) -> None:
    at = sign_in(run(make(team_secrets(session_hours=2))), "alice", ALICE)
    assert serves_app(at)
    at.session_state[SIGNED_KEY] = {**at.session_state[SIGNED_KEY],
                                    "since": at.session_state[SIGNED_KEY]["since"] - 2 * 3600 - 1}
    run(at)
    assert not serves_app(at) and warnings(at) == [en("access.expired")]
    sign_in(at, "alice", ALICE)
    assert serves_app(at)
    at.secrets["access"] = {**team_secrets()["access"], "users": {"alice": hash_password("new one")}}
    run(at)
    assert not serves_app(at) and warnings(at) == [en("access.changed")]
    assert "chat.conversation" not in at.session_state


def test_a_forged_sign_in_record_gets_nobody_in(zhipu_env: Any) -> None:
    at = run(make(team_secrets()))
    at.session_state[SIGNED_KEY] = {"user": "alice", "method": "user", "since": 9e12, "stamp": "0" * 24}
    run(at)
    assert not serves_app(at) and warnings(at) == [en("access.changed")]


# ---- settings that cannot be used ------------------------------------------------------------------
@pytest.mark.parametrize(("secrets", "where"), [
    ({"access": {"password_hash": TEAM}}, "[access] password_hash"),
    ({"access": {"password": HASHES["team"]}}, "[access] password"),
    ({"limits": {"tokens_per_day": "lots"}}, "[limits] tokens_per_day"),
])
def test_settings_that_cannot_be_used_serve_nothing(llm: Any, secrets: dict[str, Any], where: str) -> None:
    at = run(make(secrets))  # on 127.0.0.1, without a server key: still nothing
    assert not serves_app(at)
    assert [x.value for x in at.title] == [en("access.config.title")]
    text = rendered_text(at)
    assert where in text and TEAM not in text and HASHES["team"] not in text


def test_a_secrets_file_that_does_not_parse_serves_nothing(llm: Any, tmp_path: Path) -> None:
    broken = tmp_path / "secrets.toml"
    broken.write_text('[access]\npassword_hash = "scrypt$unterminated\n', encoding="utf-8")
    at = make()
    with patch_config_options({"secrets.files": [str(broken)]}):
        at.run()
    assert_ok(at)
    assert not serves_app(at)
    text = rendered_text(at)
    assert "secrets.toml: line 2, column" in text and "unterminated" not in text


# ---- single sign-on ---------------------------------------------------------------------------------
AUTH = {"auth": {"redirect_uri": "http://10.0.0.5:7020/oauth2callback", "cookie_secret": "cookie-s3cret",
                 "client_id": "id", "client_secret": "client-s3cret",
                 "server_metadata_url": "https://login.example.com/.well-known/openid-configuration"},
        "access": {"admins": ["boss@example.com"], "allowed_domains": ["example.com"]}}


def test_single_sign_on_uses_the_email_as_the_user_id(zhipu_env: Any) -> None:
    at = make(AUTH)
    at.user = {"is_logged_in": True, "email": "Boss@Example.com", "name": "The Boss"}
    run(at)
    assert serves_app(at)
    ident = at.session_state[IDENTITY_KEY]
    assert (ident.user, ident.method, ident.admin) == ("boss@example.com", "oidc", True)
    assert "cookie-s3cret" not in rendered_text(at) and "client-s3cret" not in rendered_text(at)


def test_single_sign_on_refuses_other_domains_and_waits_for_a_login(zhipu_env: Any) -> None:
    outsider = make(AUTH)
    outsider.user = {"is_logged_in": True, "email": "someone@gmail.com"}
    run(outsider)
    assert not serves_app(outsider)
    assert any("someone@gmail.com" in e.value for e in outsider.error)
    assert outsider.button(key="access.oidc_out")
    nobody = make(AUTH)
    nobody.user = {"is_logged_in": False}
    run(nobody)
    assert not serves_app(nobody) and [x.value for x in nobody.title] == [en("access.title")]
    if access.oidc_ready():
        assert nobody.button(key="access.sso.default").label == en("access.sso")
    else:  # this machine lacks Authlib: the page says what the operator must install
        assert [e.value for e in nobody.error] == [en("access.oidc_needs_authlib")]

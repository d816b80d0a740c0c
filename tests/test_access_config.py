"""Access settings, password hashes, sign-in and the growing wait after wrong passwords (pure core)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.access import (
    MAX_DELAY_S,
    AccessConfig,
    AccessConfigError,
    AttemptLimiter,
    Decision,
    Outcome,
    decide,
    hash_password,
    is_loopback,
    load_access,
    normalize_user,
    parse_hash,
    server_key_configured,
    sign_in,
    verify_password,
)
from core.config import Settings
from core.i18n import t

ROOT = Path(__file__).resolve().parents[1]
TEAM, ALICE, BOB = "team-pass 2026", "alice's own", "bob-pw"
HASHES = {"team": hash_password(TEAM), "alice": hash_password(ALICE), "bob": hash_password(BOB, "pbkdf2")}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings(access: dict | None = None, env: dict | None = None, **secrets: object) -> Settings:
    data = dict(secrets)
    if access is not None:
        data["access"] = access
    return Settings(env=env or {}, secrets=data)


def team_config() -> AccessConfig:
    return load_access(settings({"password_hash": HASHES["team"],
                                 "users": {"Alice": HASHES["alice"], "bob": HASHES["bob"]},
                                 "admins": ["alice"]}))


# ---- hashes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["scrypt", "pbkdf2"])
def test_a_hash_verifies_its_password_only_and_is_salted(scheme: str) -> None:
    first, second = hash_password("秘密 pass", scheme), hash_password("秘密 pass", scheme)
    assert first != second  # a fresh salt each time
    assert "秘密" not in first and "pass" not in first
    assert verify_password("秘密 pass", first) and verify_password("秘密 pass", second)
    assert not verify_password("秘密 pas", first)
    assert not verify_password("", first)
    assert parse_hash(first).scheme == ("scrypt" if scheme == "scrypt" else "pbkdf2_sha256")


@pytest.mark.parametrize("bad", ["plain-password", "scrypt$16384$8$1$c2FsdA", "scrypt$3$8$1$AAAAAAAAAAA$BBBB",
                                 "pbkdf2_sha256$10$AAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAA", "", "$$$$$"])
def test_a_malformed_hash_never_matches(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_hash(bad)
    assert not verify_password(bad, bad)


def test_the_hash_command_prints_a_hash_of_what_it_reads() -> None:
    done = subprocess.run([sys.executable, "-m", "core.access", "hash"], input="tea for two\n", text=True,
                          capture_output=True, cwd=ROOT, timeout=60, check=True)
    line = done.stdout.strip()
    assert line.startswith("scrypt$") and verify_password("tea for two", line)
    assert "tea for two" not in done.stdout + done.stderr
    pbkdf2 = subprocess.run([sys.executable, "-m", "core.access", "hash", "--scheme", "pbkdf2"],
                            input="x y\n", text=True, capture_output=True, cwd=ROOT, timeout=60,
                            check=True).stdout.strip()
    assert pbkdf2.startswith("pbkdf2_sha256$") and verify_password("x y", pbkdf2)
    empty = subprocess.run([sys.executable, "-m", "core.access", "hash"], input="\n", text=True,
                           capture_output=True, cwd=ROOT, timeout=60)
    assert empty.returncode == 1 and not empty.stdout and "empty" in empty.stderr


# ---- the settings ---------------------------------------------------------------------------------
def test_nothing_configured_is_open_and_users_are_normalized() -> None:
    assert not load_access(settings()).enabled
    config = team_config()
    assert config.enabled and config.passwords and not config.oidc
    assert set(config.users) == {"alice", "bob"}  # names compared without case
    assert config.admins == frozenset({"alice"})
    assert normalize_user("  Alice   Smith ") == "alice smith"
    assert normalize_user("a\x00b") == "" and normalize_user("x" * 65) == ""


def test_the_shared_password_hash_may_come_from_the_environment() -> None:
    config = load_access(settings(env={"PLAYGROUND_ACCESS_PASSWORD_HASH": HASHES["team"]}))
    assert config.enabled and config.shared_hash == HASHES["team"]
    with pytest.raises(AccessConfigError) as err:
        load_access(settings(env={"PLAYGROUND_ACCESS_PASSWORD_HASH": "team-pass"}))
    assert err.value.where == "PLAYGROUND_ACCESS_PASSWORD_HASH" and err.value.key == "access.config.not_hash"


@pytest.mark.parametrize(("access", "where", "key"), [
    ({"password_hash": "team-pass 2026"}, "[access] password_hash", "access.config.not_hash"),
    ({"pasword_hash": HASHES["team"]}, "[access] pasword_hash", "access.config.unknown_key"),
    ({"users": {"alice": "alice's own"}}, "[access.users] alice", "access.config.not_hash"),
    ({"users": {"Alice": HASHES["alice"], "alice ": HASHES["bob"]}}, "[access.users] alice ",
     "access.config.duplicate_user"),
    ({"users": ["alice"]}, "[access.users]", "access.config.not_table"),
    ({"password_hash": HASHES["team"], "admins": ["carol"]}, "[access] admins",
     "access.config.admin_without_password"),
    ({"password_hash": HASHES["team"], "admins": "alice"}, "[access] admins",
     "access.config.admin_without_password"),
    ({"password_hash": HASHES["team"], "admins": 3}, "[access] admins", "access.config.not_list"),
    ({"password_hash": HASHES["team"], "session_hours": "soon"}, "[access] session_hours",
     "access.config.bad_hours"),
    ({"password_hash": HASHES["team"], "session_hours": 0}, "[access] session_hours",
     "access.config.bad_hours"),
    ({"admins": []}, "[access]", "access.config.nobody"),
])
def test_a_setting_that_cannot_be_used_names_its_key(access: dict, where: str, key: str) -> None:
    with pytest.raises(AccessConfigError) as err:
        load_access(settings(access))
    assert (err.value.where, err.value.key) == (where, key)
    for lang in ("en", "zh"):
        text = t(err.value.key, lang, **err.value.params)
        assert text != err.value.key and not re.search(r"\{\w+\}", text)  # every field filled
        assert "team-pass" not in text and "alice's own" not in text  # never a password


def test_single_sign_on_comes_from_an_auth_section() -> None:
    config = load_access(settings({"admins": ["boss@example.com"], "allowed_domains": ["example.com"]},
                                  auth={"redirect_uri": "http://x/oauth2callback", "cookie_secret": "s",
                                        "google": {"client_id": "c"}, "okta": {"client_id": "d"}}))
    assert config.oidc and config.enabled and not config.passwords
    assert config.oidc_providers == ("google", "okta")
    assert config.email_allowed("Ann@Example.com") and not config.email_allowed("ann@gmail.com")
    assert config.is_admin("boss@example.com", "oidc") and not config.is_admin("ann@example.com", "oidc")
    anyone = load_access(settings(auth={"client_id": "c"}))
    assert anyone.email_allowed("x@anywhere.org") and anyone.oidc_providers == ()
    with pytest.raises(AccessConfigError) as err:
        load_access(settings(auth="yes"))
    assert err.value.where == "[auth]"


# ---- when to ask ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True), ("127.0.1.1", True),
    ("0.0.0.0", False), ("", False), (None, False), ("10.0.79.103", False), ("::", False),
    ("my-host", False)])
def test_only_loopback_addresses_are_private(address: str | None, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_the_decision_table() -> None:
    none, some = AccessConfig(), team_config()
    assert decide(none, exposed=False, server_key=True) is Decision.OPEN  # 127.0.0.1, as today
    assert decide(none, exposed=True, server_key=False) is Decision.OPEN  # everyone brings a key
    assert decide(none, exposed=True, server_key=True) is Decision.NEEDS_CONFIG
    for exposed in (False, True):
        assert decide(some, exposed=exposed, server_key=False) is Decision.SIGN_IN
    assert server_key_configured(Settings(env={"DASHSCOPE_API_KEY": "k"}, secrets={}))
    assert server_key_configured(Settings(env={}, secrets={"ZHIPUAI_API_KEY": "k"}))
    assert not server_key_configured(Settings(env={"ZHIPUAI_API_KEY": "  "}, secrets={}))


# ---- signing in -----------------------------------------------------------------------------------
def test_listed_users_need_their_own_password_others_the_teams() -> None:
    config, limiter = team_config(), AttemptLimiter(Clock())
    alice = sign_in(config, " ALICE ", ALICE, "10.0.0.1", limiter)
    assert (alice.outcome, alice.user, alice.method, alice.admin) == (Outcome.OK, "alice", "user", True)
    bob = sign_in(config, "bob", BOB, "10.0.0.1", limiter)  # a PBKDF2 hash
    assert (bob.outcome, bob.admin) == (Outcome.OK, False)
    carol = sign_in(config, "Carol", TEAM, "10.0.0.2", limiter)
    assert (carol.outcome, carol.user, carol.method, carol.admin) == (Outcome.OK, "carol", "shared", False)
    assert sign_in(config, "alice", TEAM, "10.0.0.3", limiter).outcome is Outcome.WRONG  # a name is reserved
    assert sign_in(config, "   ", TEAM, "10.0.0.3", limiter).outcome is Outcome.BAD_NAME


def test_without_a_shared_password_unknown_names_get_in_nowhere() -> None:
    config = load_access(settings({"users": {"alice": HASHES["alice"]}}))
    result = sign_in(config, "mallory", ALICE, "c", AttemptLimiter(Clock()))
    assert result.outcome is Outcome.WRONG and not result.known_name


def test_the_wait_grows_after_each_wrong_password_and_blocks_nobody_else() -> None:
    clock = Clock()
    limiter, config = AttemptLimiter(clock), team_config()
    waits = []
    for _ in range(9):
        result = sign_in(config, "alice", "guess", "10.9.9.9", limiter)
        assert result.outcome is Outcome.WRONG
        waits.append(result.wait_s)
        early = sign_in(config, "alice", ALICE, "10.9.9.9", limiter)  # right, but too soon: not checked
        assert early.outcome is Outcome.WAIT and early.wait_s == pytest.approx(result.wait_s)
        clock.now += result.wait_s
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]  # doubling, capped
    assert max(waits) == MAX_DELAY_S
    # Other names from other clients are not slowed down.
    assert sign_in(config, "bob", BOB, "10.1.1.1", limiter).outcome is Outcome.OK
    # The same client is slowed for every name it tries, and the name from every client.
    assert sign_in(config, "dora", TEAM, "10.9.9.9", limiter).outcome is Outcome.OK  # its wait had passed
    assert sign_in(config, "dora", "x", "10.9.9.9", limiter).outcome is Outcome.WRONG
    assert sign_in(config, "erin", TEAM, "10.9.9.9", limiter).outcome is Outcome.WAIT
    assert sign_in(config, "alice", "x", "10.2.2.2", limiter).outcome is Outcome.WRONG
    assert sign_in(config, "alice", ALICE, "10.3.3.3", limiter).outcome is Outcome.WAIT


def test_a_right_password_clears_the_count_and_old_failures_are_forgotten() -> None:
    clock = Clock()
    limiter, config = AttemptLimiter(clock), team_config()
    for _ in range(3):
        sign_in(config, "bob", "x", "c1", limiter)
        clock.now += 10
    assert limiter.failures(("name", "bob")) == 3
    assert sign_in(config, "bob", BOB, "c1", limiter).outcome is Outcome.OK
    assert limiter.failures(("name", "bob")) == 0 and limiter.wait_s([("client", "c1")]) == 0
    sign_in(config, "bob", "x", "c1", limiter)
    clock.now += 16 * 60  # a quarter of an hour later the failure no longer counts
    assert limiter.failures(("name", "bob")) == 0


def test_a_changed_password_or_right_changes_the_stamp() -> None:
    config = team_config()
    stamp = config.stamp("alice", "user")
    assert stamp and stamp == team_config().stamp("alice", "user")
    changed = load_access(settings({"password_hash": HASHES["team"], "users": {"alice": hash_password(ALICE)},
                                    "admins": ["alice"]}))
    assert changed.stamp("alice", "user") != stamp
    demoted = load_access(settings({"password_hash": HASHES["team"], "users": {"alice": HASHES["alice"]}}))
    assert demoted.stamp("alice", "user") != stamp
    removed = load_access(settings({"password_hash": HASHES["team"]}))
    assert removed.stamp("alice", "user") == ""
    assert removed.stamp("alice", "shared") != ""  # now the team password is alice's way in
    assert config.stamp("alice", "shared") == ""  # while listed, she cannot use it

"""Who may use the playground: the access settings, password hashes, sign-in and its growing wait.

Pure Python (never Streamlit). The settings come from `[access]` in `.streamlit/secrets.toml`
(and `PLAYGROUND_ACCESS_PASSWORD_HASH` for a shared password), single sign-on from an `[auth]`
section (Streamlit's `st.login`). Passwords are kept only as salted hashes (scrypt or PBKDF2),
compared in constant time. Make one with `python -m core.access hash`.

A settings mistake raises AccessConfigError naming the key: the app then serves nothing rather
than serving without the access the operator meant to set.
"""

from __future__ import annotations

import hashlib
import importlib.util
import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.config import Settings
from core.password_hash import dummy_hash, hash_password, parse_hash, verify_password

__all__ = ["AccessConfig", "AccessConfigError", "AttemptLimiter", "Decision", "Outcome", "SignIn", "decide",
           "hash_password", "is_loopback", "load_access", "normalize_user", "oidc_ready", "parse_hash",
           "server_key_configured", "sign_in", "verify_password"]

SHARED_HASH_ENV = "PLAYGROUND_ACCESS_PASSWORD_HASH"
SERVER_KEY_ENVS: tuple[str, ...] = ("ZHIPUAI_API_KEY", "OPENAI_API_KEY", "DASHSCOPE_API_KEY")
ACCESS_KEYS = frozenset({"password_hash", "users", "admins", "allowed_emails", "allowed_domains",
                         "session_hours"})
DEFAULT_SESSION_HOURS = 12.0
MAX_NAME = 64
FIRST_DELAY_S, MAX_DELAY_S = 1.0, 60.0  # waits after wrong passwords: 1, 2, 4, ... s, at most 60 s
FORGET_AFTER_S = 15 * 60.0  # failures older than this no longer count
MAX_TRACKED = 10_000  # names and clients remembered at once (oldest dropped first)


class AccessConfigError(Exception):
    """The access or limit settings cannot be used. `where` names the key ("[access] admins"),
    `key` is a catalogue entry saying what is wrong, filled with `params`. Never holds a secret."""

    def __init__(self, where: str, key: str, **params: Any) -> None:
        self.where, self.key, self.params = where, key, params
        super().__init__(where, key)

    def __str__(self) -> str:
        return f"{self.where}: {self.key}"


# ---- the settings -------------------------------------------------------------------------------
def normalize_user(name: str | None) -> str:
    """A user name as compared and recorded: trimmed, single spaces, lower case ("" if unusable)."""
    text = " ".join(str(name or "").split()).lower()
    if not text or len(text) > MAX_NAME or any(not ch.isprintable() for ch in text):
        return ""
    return text


@dataclass(frozen=True)
class AccessConfig:
    """How people sign in. `enabled` is False when nothing is configured (the app is open)."""

    shared_hash: str | None = None
    users: Mapping[str, str] = field(default_factory=dict)  # name -> hash
    admins: frozenset[str] = frozenset()
    oidc: bool = False  # an [auth] section: single sign-on through st.login
    oidc_providers: tuple[str, ...] = ()  # named providers ([auth.google], ...); () = the default one
    allowed_emails: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()
    session_hours: float = DEFAULT_SESSION_HOURS

    @property
    def enabled(self) -> bool:
        return bool(self.shared_hash or self.users or self.oidc)

    @property
    def passwords(self) -> bool:
        return bool(self.shared_hash or self.users)

    def stamp(self, user: str, method: str) -> str:
        """A fingerprint of what let `user` in: it changes when their password or right does, which
        ends the sessions signed in with the old one ("" when that way in is gone)."""
        if method == "user":
            encoded = self.users.get(user)
        elif method == "shared":
            encoded = self.shared_hash if user not in self.users else None
        else:
            encoded = "oidc" if self.oidc and self.email_allowed(user) else None
        if encoded is None:
            return ""
        admin = "admin" if self.is_admin(user, method) else ""
        return hashlib.sha256(f"{method}\0{user}\0{encoded}\0{admin}".encode()).hexdigest()[:24]

    def is_admin(self, user: str, method: str) -> bool:
        """Admins sign in with their own password or single sign-on, never the shared password."""
        return method in ("user", "oidc") and user in self.admins

    def email_allowed(self, email: str) -> bool:
        email = normalize_user(email)
        if not email:
            return False
        if not self.allowed_emails and not self.allowed_domains:
            return True
        domain = email.rpartition("@")[2]
        return email in self.allowed_emails or domain in self.allowed_domains


def config_table(value: Any, where: str) -> Mapping[str, Any]:
    """A section of secrets.toml as a table ({} when absent); AccessConfigError when it is not one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AccessConfigError(where, "access.config.not_table")
    return value


def check_known(table: Mapping[str, Any], known: Iterable[str], where: str, key: str) -> None:
    """AccessConfigError (catalogue `key`, naming the first unknown setting and the known ones) when
    the table has a setting that is not `known`: a typo must not silently leave a setting unset."""
    names = sorted(known)
    unknown = sorted(set(table) - set(names))
    if unknown:
        raise AccessConfigError(f"{where} {unknown[0]}", key, known=", ".join(names))


def _names(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise AccessConfigError(where, "access.config.not_list")
    out = set()
    for item in value:
        name = normalize_user(item) if isinstance(item, str) else ""
        if not name:
            raise AccessConfigError(where, "access.config.bad_name", value=str(item)[:MAX_NAME])
        out.add(name)
    return frozenset(out)


def _checked_hash(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AccessConfigError(where, "access.config.not_hash")
    try:
        parse_hash(value)
    except ValueError:
        raise AccessConfigError(where, "access.config.not_hash") from None
    return value.strip()


def _session_hours(value: Any) -> float:
    if value is None:
        return DEFAULT_SESSION_HOURS
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 24 * 366:
        raise AccessConfigError("[access] session_hours", "access.config.bad_hours", value=str(value)[:40])
    return float(value)


def load_access(settings: Settings) -> AccessConfig:
    """The access settings; AccessConfigError for anything that cannot be used."""
    access = config_table(settings.secrets.get("access"), "[access]")
    check_known(access, ACCESS_KEYS, "[access]", "access.config.unknown_key")
    shared = settings.env.get(SHARED_HASH_ENV) or access.get("password_hash")
    where_shared = SHARED_HASH_ENV if settings.env.get(SHARED_HASH_ENV) else "[access] password_hash"
    shared_hash = _checked_hash(shared, where_shared) if shared is not None else None
    users: dict[str, str] = {}
    for raw, encoded in config_table(access.get("users"), "[access.users]").items():
        name = normalize_user(raw)
        where = f"[access.users] {str(raw)[:MAX_NAME]}"
        if not name:
            raise AccessConfigError(where, "access.config.bad_name", value=str(raw)[:MAX_NAME])
        if name in users:
            raise AccessConfigError(where, "access.config.duplicate_user")
        users[name] = _checked_hash(encoded, where)
    auth = settings.secrets.get("auth")
    oidc = auth is not None
    if oidc and not isinstance(auth, Mapping):
        raise AccessConfigError("[auth]", "access.config.not_table")
    providers = tuple(sorted(k for k, v in (auth or {}).items() if isinstance(v, Mapping)))
    config = AccessConfig(
        shared_hash=shared_hash, users=users, admins=_names(access.get("admins"), "[access] admins"),
        oidc=oidc, oidc_providers=providers,
        allowed_emails=_names(access.get("allowed_emails"), "[access] allowed_emails"),
        allowed_domains=_names(access.get("allowed_domains"), "[access] allowed_domains"),
        session_hours=_session_hours(access.get("session_hours")))
    if access and not config.enabled:
        raise AccessConfigError("[access]", "access.config.nobody")
    if not oidc:
        for admin in sorted(config.admins):
            if admin not in users:
                raise AccessConfigError("[access] admins", "access.config.admin_without_password",
                                        name=admin)
    return config


def oidc_ready() -> bool:
    """Whether Streamlit's single sign-on can run here (it needs the Authlib package)."""
    return importlib.util.find_spec("authlib") is not None


# ---- when the app must ask who is there -----------------------------------------------------------
class Decision(StrEnum):
    OPEN = "open"  # nothing configured and nothing to protect: serve as on one's own machine
    SIGN_IN = "sign_in"
    NEEDS_CONFIG = "needs_config"  # reachable by others, a server key set, no access configured


LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})


def is_loopback(address: str | None) -> bool:
    """True for an address only this machine can reach; "" or None means every interface."""
    text = (address or "").strip().strip("[]").lower()
    if not text:
        return False
    if text in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def server_key_configured(settings: Settings) -> bool:
    return any(settings.get(name) for name in SERVER_KEY_ENVS)


def decide(config: AccessConfig, exposed: bool, server_key: bool) -> Decision:
    """Sign-in whenever access is configured; without it, serve only where nobody else can spend
    the server's key."""
    if config.enabled:
        return Decision.SIGN_IN
    if exposed and server_key:
        return Decision.NEEDS_CONFIG
    return Decision.OPEN


# ---- wrong passwords: a wait that grows, per name and per client ----------------------------------
class AttemptLimiter:
    """Failed sign-ins counted per key (a name, a client) in this process. After n failures the
    next attempt is taken only FIRST_DELAY_S * 2**(n-1) s (at most MAX_DELAY_S) after the last.
    Nothing sleeps: an attempt too early is refused at once, so no other session waits."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[tuple[str, str], tuple[int, float]] = OrderedDict()

    def _current(self, key: tuple[str, str], now: float) -> tuple[int, float]:
        count, last = self._failures.get(key, (0, 0.0))
        if count and now - last > FORGET_AFTER_S:
            self._failures.pop(key, None)
            return 0, 0.0
        return count, last

    @staticmethod
    def delay_after(failures: int) -> float:
        return 0.0 if failures <= 0 else min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (failures - 1))

    def wait_s(self, keys: Iterable[tuple[str, str]]) -> float:
        """Seconds before another attempt for these keys is taken (0: now)."""
        now = self._clock()
        with self._lock:
            waits = [last + self.delay_after(count) - now
                     for count, last in (self._current(k, now) for k in keys) if count]
        return max([0.0, *waits])

    def failed(self, keys: Iterable[tuple[str, str]]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                count, _last = self._current(key, now)
                self._failures[key] = (count + 1, now)
                self._failures.move_to_end(key)
            while len(self._failures) > MAX_TRACKED:
                self._failures.popitem(last=False)

    def succeeded(self, keys: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def failures(self, key: tuple[str, str]) -> int:
        with self._lock:
            return self._current(key, self._clock())[0]


LIMITER = AttemptLimiter()  # one per server process, shared by every session


class Outcome(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # wrong name or password (never which one)
    WAIT = "wait"  # too soon after wrong passwords: not checked
    BAD_NAME = "bad_name"


@dataclass(frozen=True)
class SignIn:
    outcome: Outcome
    user: str = ""
    method: str = ""  # "user" (own password) or "shared"
    admin: bool = False
    wait_s: float = 0.0
    known_name: bool = False  # for the log: a listed user's name may be logged, a typo never


def sign_in(config: AccessConfig, name: str, password: str, client: str,
            limiter: AttemptLimiter = LIMITER) -> SignIn:
    """Check a name and password. A listed user needs their own password; anyone else the
    team's shared password (when there is one)."""
    user = normalize_user(name)
    if not user:
        return SignIn(Outcome.BAD_NAME)
    keys = [("name", user), ("client", client or "?")]
    wait = limiter.wait_s(keys)
    if wait > 0:
        return SignIn(Outcome.WAIT, wait_s=wait, known_name=user in config.users)
    if user in config.users:
        method, encoded = "user", config.users[user]
    elif config.shared_hash:
        method, encoded = "shared", config.shared_hash
    else:
        method, encoded = "", dummy_hash()
    ok = verify_password(password, encoded) and bool(method)
    if not ok:
        limiter.failed(keys)
        return SignIn(Outcome.WRONG, wait_s=limiter.wait_s(keys), known_name=user in config.users)
    limiter.succeeded(keys)
    return SignIn(Outcome.OK, user=user, method=method, admin=config.is_admin(user, method),
                  known_name=True)


# ---- the command line: python -m core.access hash -------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    import argparse
    import getpass
    import sys

    parser = argparse.ArgumentParser(prog="python -m core.access",
                                     description="Make a password hash for .streamlit/secrets.toml.")
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("hash", help="read a password (asked twice on a terminal, else one line "
                                       "from standard input) and print its hash")
    make.add_argument("--scheme", choices=("scrypt", "pbkdf2"), default="scrypt")
    args = parser.parse_args(argv)
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("The two passwords differ.", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("An empty password cannot be used.", file=sys.stderr)
        return 1
    print(hash_password(password, args.scheme))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

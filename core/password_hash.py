"""Password hashes for the access settings: salted scrypt (or PBKDF2-SHA256), compared in constant
time. Pure Python; `python -m core.access hash` prints one to paste into secrets.toml."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as secrets_module
from dataclasses import dataclass

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
PBKDF2_ITERATIONS = 600_000
MIN_PBKDF2_ITERATIONS = 100_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, scheme: str = "scrypt") -> str:
    """A salted hash to paste into secrets.toml: `scrypt$n$r$p$salt$hash` or
    `pbkdf2_sha256$iterations$salt$hash`."""
    if not password:
        raise ValueError("empty password")
    salt = secrets_module.token_bytes(16)
    data = password.encode("utf-8")
    if scheme == "scrypt":
        digest = hashlib.scrypt(data, salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32,
                                maxmem=_scrypt_mem(SCRYPT_N, SCRYPT_R, SCRYPT_P))
        return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"
    if scheme == "pbkdf2":
        digest = hashlib.pbkdf2_hmac("sha256", data, salt, PBKDF2_ITERATIONS)
        return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${_b64(salt)}${_b64(digest)}"
    raise ValueError(f"unknown scheme {scheme!r}")


def _scrypt_mem(n: int, r: int, p: int) -> int:
    return 128 * r * (n + p + 2) + 1024 * 1024


@dataclass(frozen=True)
class _Hash:
    scheme: str
    cost: tuple[int, ...]
    salt: bytes
    digest: bytes


def parse_hash(encoded: str) -> _Hash:
    """The parts of a hash made by hash_password; ValueError (without the hash) when malformed."""
    parts = str(encoded).strip().split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = (int(x) for x in parts[1:4])
            if n < 2 ** 10 or n > 2 ** 20 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
                raise ValueError("scrypt cost out of range")
            found = _Hash("scrypt", (n, r, p), _unb64(parts[4]), _unb64(parts[5]))
        elif parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            iterations = int(parts[1])
            if not MIN_PBKDF2_ITERATIONS <= iterations <= 10_000_000:
                raise ValueError("pbkdf2 iterations out of range")
            found = _Hash("pbkdf2_sha256", (iterations,), _unb64(parts[2]), _unb64(parts[3]))
        else:
            raise ValueError("not a password hash")
    except (ValueError, TypeError, binascii.Error):
        raise ValueError("not a password hash") from None
    if len(found.salt) < 8 or len(found.digest) < 16:
        raise ValueError("not a password hash")
    return found


def verify_password(password: str, encoded: str) -> bool:
    """True when `password` matches the hash; the digests are compared in constant time."""
    try:
        parsed = parse_hash(encoded)
    except ValueError:
        return False
    data = (password or "").encode("utf-8")
    if parsed.scheme == "scrypt":
        n, r, p = parsed.cost
        digest = hashlib.scrypt(data, salt=parsed.salt, n=n, r=r, p=p, dklen=len(parsed.digest),
                                maxmem=_scrypt_mem(n, r, p))
    else:
        digest = hashlib.pbkdf2_hmac("sha256", data, parsed.salt, parsed.cost[0], len(parsed.digest))
    return hmac.compare_digest(digest, parsed.digest)


_DUMMY_HASH: list[str] = []


def dummy_hash() -> str:
    """A hash of a random password, made once: checked against for unknown names, so that they
    take as long as known ones."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets_module.token_hex(16)))
    return _DUMMY_HASH[0]

"""How the usage ledger reaches its database: the engine for a URL (SQLite tuned for many threads),
and URLs and errors made safe to show (a password never appears in either).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, quote_plus

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_S = 30.0  # SQLite: how long a writer waits for another one (WAL: readers never wait)
CACHE_KIB = 32 * 1024  # SQLite page cache per connection (the default is 2 MiB)
MMAP_BYTES = 256 * 1024 * 1024  # SQLite memory-mapped reads, at most this much of the file
CONNECT_TIMEOUT_S = 5  # other databases: how long a connection attempt may take
# Connection-timeout argument of the common DBAPI drivers (the name differs between them).
TIMEOUT_ARGS = {"psycopg2": "connect_timeout", "psycopg": "connect_timeout", "pg8000": "timeout",
                "pymysql": "connect_timeout", "mysqldb": "connect_timeout"}
_SECRET_QUERY = ("password", "passwd", "secret", "token", "key")
_USERINFO = re.compile(r"(\w[\w+.-]*://[^:/@\s]*:)[^@\s]*@")


def _secrets_of(url: URL) -> list[str]:
    found = [url.password] if url.password else []
    for name, value in url.query.items():
        if any(word in name.lower() for word in _SECRET_QUERY):
            found += [v for v in ((value,) if isinstance(value, str) else value) if v]
    return [str(s) for s in found]


def redact(text: str, url: URL | None = None) -> str:
    """`text` with the URL's password (plain or URL-quoted) and any user:password@ replaced."""
    for secret in _secrets_of(url) if url is not None else []:
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, "***")
    return _USERINFO.sub(r"\1***@", text)


def display_url(url: URL) -> str:
    """The URL as it may be shown: password and secret query values hidden."""
    query = {k: ("***" if any(w in k.lower() for w in _SECRET_QUERY) else v) for k, v in url.query.items()}
    return redact(url.set(query=query).render_as_string(hide_password=True), url)


def unparsed(text: str) -> str:
    """What may be shown of a URL that could not be parsed: its scheme at most."""
    scheme = re.match(r"\s*([A-Za-z][\w+.-]*)://", text)
    return f"{scheme.group(1)}://…" if scheme else "…"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the writer, nor it them
        cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; one fsync per checkpoint
        cursor.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # the page's scans stay in memory
        cursor.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")  # reads without a copy per page
    finally:
        cursor.close()


def make_engine(url: URL) -> Engine:
    """An engine for the URL; raises when its dialect or driver is missing (connects lazily)."""
    kwargs: dict[str, Any] = {"hide_parameters": True}  # no row values in errors or logs
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_S}
        if url.database in (None, "", ":memory:"):
            kwargs["poolclass"] = StaticPool  # one in-memory database shared by every thread
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs["pool_pre_ping"] = True  # a database restarted since does not fail the next record
    arg = TIMEOUT_ARGS.get(url.get_driver_name())
    if arg:
        kwargs["connect_args"] = {arg: CONNECT_TIMEOUT_S}
    return create_engine(url, **kwargs)


def short_error(exc: BaseException) -> str:
    """An exception in one line: the driver's own error where SQLAlchemy wraps one."""
    inner = getattr(exc, "orig", None) or exc
    text = " ".join(str(inner).split())
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__

"""The usage ledger: one row per model call, from every page, in any SQLAlchemy database.

By default an embedded SQLite file, `<data_dir>/usage.sqlite`; `PLAYGROUND_DB_URL` names any
other SQLAlchemy URL (PostgreSQL for a team). The schema is created when a ledger is opened. It is
safe for many sessions (threads) at once, and a failure to record is logged, never raised: the
chat goes on. No API key is ever written: a row has no field for one, parameters whose name
suggests a credential are dropped, and messages are stored only when the user turns that on.

Pure Python and SQLAlchemy; never imports Streamlit. The table and its rows are in
core/usage_schema.py, the reads in core/usage_queries.py, the engine in core/usage_engine.py.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from core import usage_queries as q
from core import usage_rollup as rollup
from core.call_cost import Price
from core.config import Settings
from core.i18n import t
from core.usage_engine import display_url, make_engine, redact, short_error, unparsed
from core.usage_migrate import migrate
from core.usage_overview import Overview, latency_histogram, overview
from core.usage_schema import Summary, UsageFilter, UsageRow, calls, metadata, to_db
from core.usage_users import UserUsage, by_user, user_since

__all__ = ["DB_URL_ENV", "Ledger", "LedgerUnavailable", "Overview", "Summary", "UsageFilter", "UsageRow",
           "UserUsage", "clear_ledger_cache", "ledger_for", "ledger_url"]

log = logging.getLogger("playground.usage")

DB_URL_ENV = "PLAYGROUND_DB_URL"
SQLITE_FILE = "usage.sqlite"
RETRY_AFTER_S = 30.0  # ledger_for: an unreachable URL is not tried again for this long
REPRICE_BATCH = 5000


class LedgerUnavailable(Exception):
    """The ledger's database cannot be used. `key` is a catalogue key (ledger.*) whose text says
    what to do; `detail` is the driver's words. Neither, nor str(), ever holds the URL's password."""

    def __init__(self, key: str, detail: str = "", url: str = "") -> None:
        self.key, self.detail, self.url = key, detail, url
        super().__init__(key, detail, url)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.key, self.detail, self.url))

    def __str__(self) -> str:
        return " | ".join(part for part in (self.key, self.url, self.detail) if part)

    def message(self, lang: str) -> str:
        """What happened and what to do, in the UI language."""
        return t(self.key, lang, url=self.url or "—")


class Ledger:
    """One database of usage rows. Thread-safe: share one per process (see ledger_for)."""

    def __init__(self, url: str) -> None:
        """Connect and create the schema; raise LedgerUnavailable when that is not possible."""
        try:
            parsed = make_url(url)
        except Exception as exc:
            raise LedgerUnavailable("ledger.bad_url", detail=type(exc).__name__,
                                    url=unparsed(str(url))) from None
        self._url = parsed
        self.display_url = display_url(parsed)
        self.last_error: str | None = None  # the last failure to record, without secrets
        self._generation = 0  # re-pricings done through this object (see data_version)
        self._summaries = False  # whether the daily summaries may be read (core/usage_rollup.py)
        try:
            self._engine = make_engine(parsed)
        except Exception as exc:  # no such dialect, or its driver is not installed
            raise LedgerUnavailable("ledger.no_driver", url=self.display_url,
                                    detail=redact(f"{type(exc).__name__}: {exc}", parsed)[:500]) from None
        try:
            self._create_schema()
        except Exception as exc:
            self._engine.dispose()
            raise LedgerUnavailable("ledger.unavailable", url=self.display_url,
                                    detail=redact(short_error(exc), parsed)[:500]) from None

    def _create_schema(self) -> None:
        migrate(self._engine)  # a ledger of an earlier version: new columns, summaries to rebuild
        try:
            metadata.create_all(self._engine)
        except Exception:
            # Another process may have created the table between the check and the CREATE.
            metadata.create_all(self._engine)
        self._summaries = self._check_summaries()

    def _check_summaries(self) -> bool:
        """Build the daily summaries from the calls if this version has not (an existing ledger).
        On failure the pages read the calls themselves: slower, the same figures."""
        failure = ""
        for _attempt in range(2):  # another process may be rebuilding them at the same moment
            try:
                with self._engine.begin() as conn:
                    if not rollup.is_current(conn):
                        rollup.rebuild(conn)
                return True
            except Exception as exc:
                failure = redact(short_error(exc), self._url)[:500]
        log.warning("usage ledger %s: daily summaries not built, reading calls: %s", self.display_url,
                    failure)
        return False

    @classmethod
    def open(cls, settings: Settings) -> Ledger:
        """The ledger the settings name: PLAYGROUND_DB_URL, else the SQLite file in data_dir."""
        return cls(ledger_url(settings, create_dir=True))

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"Ledger({self.display_url!r})"

    # ---- writing --------------------------------------------------------------------------------
    def record(self, row: UsageRow) -> bool:
        """Add one call. Never raises: on failure, log a line (no secrets) and return False."""
        return self.record_many([row]) == 1

    def record_many(self, rows: list[UsageRow]) -> int:
        """Add many calls in one transaction (executemany); the number written, 0 on failure."""
        if not rows:
            return 0
        try:
            values = [to_db(row) for row in rows]
            with self._engine.begin() as conn:
                conn.execute(insert(calls), values)
                rollup.record(conn, values)  # always, so summaries stay right for every reader
            return len(values)
        except Exception as exc:
            self.last_error = redact(short_error(exc), self._url)[:500]
            log.warning("usage ledger %s: %d call(s) not recorded: %s", self.display_url, len(rows),
                        self.last_error)
            return 0

    def recompute_costs(self, price: Price) -> int:
        """Re-price every row with `price(model, prompt, completion) -> (cost, currency) | None`;
        a row without tokens gets no cost, whatever `price` answers.

        Returns how many rows changed. A row for which `price` raises is left as it was.
        """
        changed, last_id, memo = 0, 0, {}
        cols = (calls.c.id, calls.c.model, calls.c.prompt_tokens, calls.c.completion_tokens,
                calls.c.cost, calls.c.currency)
        stmt = update(calls).where(calls.c.id == bindparam("row_id")).values(
            cost=bindparam("new_cost"), currency=bindparam("new_currency"))
        while True:
            with self._reading() as conn:
                batch = conn.execute(select(*cols).where(calls.c.id > last_id).order_by(calls.c.id)
                                     .limit(REPRICE_BATCH)).all()
            if not batch:
                if changed:
                    with self._reading() as conn, conn.begin():
                        rollup.rebuild_daily(conn)
                    self._generation += 1
                return changed
            updates = []
            for row_id, model, prompt, completion, cost, currency in batch:
                key = (model, prompt, completion)
                if key not in memo:
                    memo[key] = _priced(price, model, prompt, completion)
                new = memo[key]
                if new is not _FAILED and _differs((cost, currency), new):
                    updates.append({"row_id": row_id, "new_cost": new[0], "new_currency": new[1]})
            if updates:
                with self._reading() as conn, conn.begin():
                    conn.execute(stmt, updates)
                changed += len(updates)
            last_id = batch[-1][0]

    # ---- reading (aggregated in SQL: core/usage_queries.py) -------------------------------------
    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for reads; a database gone away raises LedgerUnavailable, not a driver error."""
        try:
            with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise LedgerUnavailable("ledger.unavailable", url=self.display_url,
                                    detail=redact(short_error(exc), self._url)[:500]) from None

    def data_version(self) -> tuple[int, int, int]:
        """(rows, highest id, re-pricings in this process): changes whenever the ledger does, so a
        page may cache what it computed under this key. Cheap: an index count and a key lookup."""
        with self._reading() as conn:
            rows, top = conn.execute(select(func.count(), func.max(calls.c.id))).one()
        return int(rows or 0), int(top or 0), self._generation

    def time_range(self, f: UsageFilter) -> tuple[datetime | None, datetime | None]:
        """(first, last) call time (aware UTC) under a filter; (None, None) when there is none."""
        with self._reading() as conn:
            return q.time_range(conn, f)

    def overview(self, f: UsageFilter, bucket: str = "day") -> Overview:
        """The page's figures: summary, cost_over_time(f, bucket), tokens_by_model, outcomes (the
        same values as those calls give one by one) and latency_histogram, mostly read from the
        daily summaries."""
        with self._reading() as conn:
            return overview(conn, f, bucket, self._summaries)

    def summary(self, f: UsageFilter) -> Summary:
        with self._reading() as conn:
            return overview(conn, f, "day", self._summaries).summary

    def cost_over_time(self, f: UsageFilter, bucket: str = "day") -> list[dict[str, Any]]:
        """{"period", "model", "currency", "cost", "calls"} per UTC day ("2026-11-21") or hour
        ("2026-11-21 14"); calls without a price have currency None and cost 0.0."""
        with self._reading() as conn:
            return q.cost_over_time(conn, f, bucket)

    def tokens_by_model(self, f: UsageFilter) -> list[dict[str, Any]]:
        with self._reading() as conn:
            return q.tokens_by_model(conn, f)

    def latency_histogram(self, f: UsageFilter) -> list[dict[str, Any]]:
        """Calls per model and latency bin (core.usage_rollup.LATENCY_EDGES): model, bin, low,
        high (None: open), count."""
        with self._reading() as conn:
            return latency_histogram(conn, f, self._summaries)

    def outcomes(self, f: UsageFilter) -> list[dict[str, Any]]:
        with self._reading() as conn:
            return q.outcomes(conn, f)

    def by_user(self, f: UsageFilter) -> list[UserUsage]:
        """Calls, tokens and cost of each user under the filter, most calls first."""
        with self._reading() as conn:
            return by_user(conn, f, self._summaries)

    def user_since(self, user_id: str, since: datetime, payers: tuple[str, ...] = ()) -> UserUsage:
        """One user's calls, tokens and cost from `since` on (what a per-user limit checks: on the
        server's keys, payers=("",))."""
        with self._reading() as conn:
            return user_since(conn, user_id, since, self._summaries, payers)

    def rows(self, f: UsageFilter, limit: int = 1000, offset: int = 0) -> list[UsageRow]:
        with self._reading() as conn:
            return q.rows(conn, f, limit, offset)

    def count(self, f: UsageFilter) -> int:
        with self._reading() as conn:
            return q.count(conn, f)

    def distinct_values(self) -> dict[str, list[str]]:
        with self._reading() as conn:
            return q.distinct_values(conn)


_FAILED: Any = object()


def _priced(price: Price, model: str, prompt: int | None, completion: int | None) -> Any:
    """(cost, currency), (None, None) for no price or no tokens (a call refused before any token
    costs nothing, as when it was recorded), or _FAILED when `price` raised or made no sense."""
    try:
        result = price(model, prompt, completion)
        if result is None or (prompt is None and completion is None):
            return (None, None)
        cost, currency = result
        cost = float(cost)
    except Exception:
        return _FAILED
    return (cost, str(currency)) if math.isfinite(cost) else _FAILED


def _differs(old: tuple[Any, Any], new: tuple[Any, Any]) -> bool:
    if old[1] != new[1] or (old[0] is None) != (new[0] is None):
        return True
    return old[0] is not None and abs(float(old[0]) - float(new[0])) > 1e-12 * max(1.0, abs(new[0]))


def ledger_url(settings: Settings, create_dir: bool = False) -> str:
    """PLAYGROUND_DB_URL, else `sqlite:///<data_dir>/usage.sqlite` (creating data_dir if asked)."""
    url = settings.get(DB_URL_ENV)
    if url:
        return url
    data_dir = Path(settings.data_dir).expanduser().resolve()
    if create_dir:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerUnavailable("ledger.no_dir", url=str(data_dir),
                                    detail=f"{type(exc).__name__}: {exc.strerror or exc}") from None
    return f"sqlite:///{data_dir / SQLITE_FILE}"


MAX_CACHED = 8  # ledgers kept open; one in production, one per test's data dir in a test run
_cache: OrderedDict[str, Ledger] = OrderedDict()
_failures: dict[str, tuple[float, LedgerUnavailable]] = {}
_cache_lock = threading.Lock()


def ledger_for(settings: Settings) -> Ledger:
    """One Ledger per URL per process. An unavailable URL raises LedgerUnavailable, and is not
    tried again for RETRY_AFTER_S (a dead database must not slow every chat)."""
    url = ledger_url(settings)
    with _cache_lock:
        ledger = _cache.get(url)
        if ledger is not None:
            _cache.move_to_end(url)
            return ledger
        failed = _failures.get(url)
        if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER_S:
            err = failed[1]
            raise LedgerUnavailable(err.key, err.detail, err.url)
        try:
            ledger = Ledger.open(settings)
        except LedgerUnavailable as err:
            _failures[url] = (time.monotonic(), err)
            log.warning("usage ledger unavailable: %s", err)
            raise
        _failures.pop(url, None)
        _cache[url] = ledger
        while len(_cache) > MAX_CACHED:
            # Closing only drops idle connections; one still in use is closed when returned.
            _cache.popitem(last=False)[1].close()
        return ledger


def clear_ledger_cache() -> None:
    """Forget (and close) every cached ledger and failure; for tests and settings changes."""
    with _cache_lock:
        for ledger in _cache.values():
            ledger.close()
        _cache.clear()
        _failures.clear()

"""core/usage_ledger: storage on SQLite and a second URL, threads, unreachable databases, no secrets."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.config import Settings
from core.i18n import LANGUAGES, has
from core.usage_engine import display_url, redact
from core.usage_ledger import (
    DB_URL_ENV,
    SQLITE_FILE,
    Ledger,
    LedgerUnavailable,
    UsageFilter,
    UsageRow,
    clear_ledger_cache,
    ledger_for,
    ledger_url,
)

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
JOIN_S = 60.0  # upper bound for the writer threads to end; never a speed assertion


def make_row(**kw: Any) -> UsageRow:
    """A complete row; any field can be given."""
    values: dict[str, Any] = {
        "ts": T0, "session_id": "s1", "page": "chat", "backend": "zhipu", "endpoint": "zhipu",
        "base_url_host": "open.bigmodel.cn", "model": "glm-4-plus",
        "params": {"temperature": 0.95, "top_p": 0.7, "do_sample": True, "stop": ["END"]},
        "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150, "tokens_estimated": False,
        "ttft_s": 0.25, "latency_s": 1.5, "streamed": True, "outcome": "ok", "error_kind": None,
        "error_code": None, "cost": 0.0075, "currency": "CNY",
    }
    values.update(kw)
    return UsageRow(**values)


@pytest.fixture(autouse=True)
def _own_ledger_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No database URL from the developer's environment; no ledger shared between tests."""
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    clear_ledger_cache()
    yield
    clear_ledger_cache()


def db_files(path: Path) -> list[Path]:
    """The SQLite file and its write-ahead log and shared-memory files, where present."""
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


# ---- round trips ---------------------------------------------------------------------------------
def test_default_ledger_is_a_sqlite_file_in_the_data_dir(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "not" / "yet" / "there"
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(data_dir))
    ledger = Ledger.open(Settings.load())
    assert (data_dir / SQLITE_FILE).is_file()  # the folder was created, the schema with the file
    row = make_row(request_id="req-1", messages_text='{"messages": []}')
    assert ledger.record(row)
    (back,) = ledger.rows(UsageFilter())
    assert back.id is not None and back == replace(row, id=back.id)
    assert back.ts.tzinfo is not None and back.ts == T0
    ledger.close()
    again = Ledger.open(Settings.load())  # reopening keeps what was written, creates nothing twice
    assert again.count(UsageFilter()) == 1
    again.close()


def test_playground_db_url_names_another_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere" / "other.db"
    other.parent.mkdir()
    monkeypatch.setenv(DB_URL_ENV, f"sqlite:///{other}")
    settings = Settings.load()
    assert ledger_url(settings) == f"sqlite:///{other}"
    ledger = Ledger.open(settings)
    rows = [make_row(model="glm-4-flash", ts=T0 + timedelta(minutes=i), prompt_tokens=i) for i in range(3)]
    assert [ledger.record(r) for r in rows] == [True, True, True]
    back = ledger.rows(UsageFilter())
    assert [r.prompt_tokens for r in back] == [2, 1, 0]  # newest first
    assert [replace(r, id=None) for r in reversed(back)] == rows
    assert other.is_file() and not (settings.data_dir / SQLITE_FILE).exists()
    ledger.close()


def test_in_memory_url_is_one_database_for_every_thread() -> None:
    ledger = Ledger("sqlite://")
    worker = threading.Thread(target=lambda: ledger.record(make_row()))
    worker.start()
    worker.join(JOIN_S)
    assert ledger.count(UsageFilter()) == 1


def test_times_are_stored_as_utc() -> None:
    ledger = Ledger("sqlite://")
    beijing = timezone(timedelta(hours=8))
    ledger.record(make_row(ts=datetime(2026, 11, 21, 2, 30, tzinfo=beijing), session_id="aware"))
    ledger.record(make_row(ts=datetime(2026, 11, 20, 18, 30), session_id="naive"))  # naive: UTC
    for session in ("aware", "naive"):
        (row,) = ledger.rows(UsageFilter(session_id=session))
        assert row.ts == datetime(2026, 11, 20, 18, 30, tzinfo=UTC) and row.ts.tzinfo is UTC
    (bucket,) = ledger.cost_over_time(UsageFilter())
    assert bucket["period"] == "2026-11-20" and bucket["calls"] == 2


def test_parameters_never_keep_a_credential_and_strings_fit_their_columns() -> None:
    ledger = Ledger("sqlite://")
    params = {"temperature": 0.5, "max_tokens": 64, "api_key": "sk-x", "Authorization": "Bearer y",
              "extra-Api-Key": "z", "password": "p"}
    ledger.record(make_row(params=params, model="m" * 300, error_code="9" * 100))
    (row,) = ledger.rows(UsageFilter())
    assert row.params == {"temperature": 0.5, "max_tokens": 64}
    assert row.model == "m" * 255 and row.error_code == "9" * 64


def test_ledger_for_keeps_one_ledger_per_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found: list[Ledger] = []
    barrier = threading.Barrier(8)

    def get() -> None:
        barrier.wait()
        found.append(ledger_for(Settings.load()))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(JOIN_S)
    assert len(found) == 8 and all(ledger is found[0] for ledger in found)
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "second"))
    assert ledger_for(Settings.load()) is not found[0]


# ---- many sessions at once -----------------------------------------------------------------------
def test_eight_threads_writing_500_rows_each_lose_nothing(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'busy.sqlite'}")
    threads_n, rows_n = 8, 500
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads_n)

    def write(k: int) -> None:
        barrier.wait()
        for i in range(rows_n):
            ok = ledger.record(make_row(session_id=f"t{k}", prompt_tokens=k * 1000 + i,
                                        completion_tokens=i, total_tokens=k * 1000 + 2 * i,
                                        ts=T0 + timedelta(seconds=i), cost=None, currency=None))
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(threads_n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(JOIN_S)
    assert not any(th.is_alive() for th in threads)
    assert len(results) == threads_n * rows_n and all(results)
    assert ledger.count(UsageFilter()) == 4000
    summary = ledger.summary(UsageFilter())
    assert summary.calls == 4000
    assert summary.prompt_tokens == sum(k * 1000 + i for k in range(threads_n) for i in range(rows_n))
    assert summary.completion_tokens == threads_n * sum(range(rows_n))
    assert summary.total_tokens == sum(k * 1000 + 2 * i for k in range(threads_n) for i in range(rows_n))
    for k in range(threads_n):
        assert ledger.count(UsageFilter(session_id=f"t{k}")) == rows_n
    ledger.close()


# ---- a database that cannot be used --------------------------------------------------------------
UNUSABLE = [
    ("postgresql://user:secret@127.0.0.1:1/db", {"ledger.no_driver", "ledger.unavailable"}),
    ("postgresql+psycopg2://user:secret@127.0.0.1:1/db", {"ledger.no_driver", "ledger.unavailable"}),
    ("mysql+pymysql://user:secret@127.0.0.1:1/db", {"ledger.no_driver", "ledger.unavailable"}),
    ("nosuchdatabase://user:secret@127.0.0.1/db", {"ledger.no_driver"}),
    ("sqlite:////nonexistent-dir/x.db", {"ledger.unavailable"}),
    ("user:secret@not a url", {"ledger.bad_url"}),
    ("postgresql://user:secret@127.0.0.1:1/db?password=secret&sslmode=disable",
     {"ledger.no_driver", "ledger.unavailable"}),
]


@pytest.mark.parametrize(("url", "keys"), UNUSABLE)
def test_an_unusable_url_raises_ledger_unavailable_without_the_password(url: str, keys: set[str]) -> None:
    with pytest.raises(LedgerUnavailable) as info:
        Ledger(url)
    err = info.value
    assert err.key in keys and has(err.key)
    shown = [str(err), repr(err), err.detail, err.url] + [err.message(lang) for lang in LANGUAGES]
    assert all("secret" not in text for text in shown), shown
    assert err.url in err.message("en")


def test_unreachable_url_through_settings_and_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DB_URL_ENV, "sqlite:////nonexistent-dir/x.db")
    opened: list[str] = []
    real_open = Ledger.open.__func__  # type: ignore[attr-defined]

    def counting_open(cls: type[Ledger], settings: Settings) -> Ledger:
        opened.append("x")
        return real_open(cls, settings)

    monkeypatch.setattr(Ledger, "open", classmethod(counting_open))
    for _ in range(3):
        with pytest.raises(LedgerUnavailable) as info:
            ledger_for(Settings.load())
        assert info.value.key == "ledger.unavailable"
    assert opened == ["x"]  # a dead database is not tried again on every call
    clear_ledger_cache()
    with pytest.raises(LedgerUnavailable):
        ledger_for(Settings.load())
    assert opened == ["x", "x"]


def test_a_data_dir_that_cannot_be_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(blocker / "data"))
    with pytest.raises(LedgerUnavailable) as info:
        Ledger.open(Settings.load())
    assert info.value.key == "ledger.no_dir" and str(blocker) in info.value.message("en")


def test_record_on_a_broken_ledger_returns_false_and_reads_raise_unavailable(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'broken.sqlite'}")
    assert ledger.record(make_row())
    with ledger.engine.begin() as conn:
        conn.execute(text("DROP TABLE usage_calls"))
    assert ledger.record(make_row()) is False
    assert ledger.last_error and "usage_calls" in ledger.last_error
    assert ledger.record_many([make_row(), make_row()]) == 0
    assert ledger.record(make_row(ts="not a time")) is False  # type: ignore[arg-type]
    with pytest.raises(LedgerUnavailable) as info:
        ledger.summary(UsageFilter())
    assert info.value.key == "ledger.unavailable"
    with pytest.raises(LedgerUnavailable):
        ledger.recompute_costs(lambda model, prompt, completion: None)


def test_redaction_of_passwords_in_urls_and_driver_words() -> None:
    from sqlalchemy.engine import make_url

    url = make_url("postgresql://ana:p%40ss%2Fw0rd@db.example:5432/usage?sslpassword=hunter22&sslmode=require")
    assert url.password == "p@ss/w0rd"
    shown = display_url(url)
    assert "p@ss" not in shown and "p%40ss" not in shown and "hunter22" not in shown
    assert "ana" in shown and "db.example:5432/usage" in shown and "sslmode=require" in shown
    words = "FATAL: password p@ss/w0rd for ana (p%40ss%2Fw0rd); dsn postgresql://ana:p@ss/w0rd@db.example"
    assert "w0rd" not in redact(words, url) and "hunter22" not in redact("hunter22", url)
    assert redact("see mysql://u:pw@host/x") == "see mysql://u:***@host/x"


def test_core_ledger_modules_never_import_streamlit() -> None:
    code = ("import sys, core.usage_ledger, core.usage_recording, core.token_estimate; "
            "assert 'streamlit' not in sys.modules, 'streamlit imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr

"""Readiness of what a replica depends on, for a load balancer or an operator: the data folder, the
usage ledger's database (PLAYGROUND_DB_URL) and the Qdrant server (PLAYGROUND_QDRANT_URL), and
optionally the app itself (Streamlit's `/_stcore/health`).

    python -m core.health [--secrets .streamlit/secrets.toml] [--app http://127.0.0.1:7020]

Prints one line per check and exits 0 when all pass, 1 otherwise. Nothing secret is printed: the
database URL without its password, no API key. Liveness alone is Streamlit's own
`GET /_stcore/health` ("ok"), which needs no script.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import Settings

TIMEOUT_S = 5.0
QDRANT_URL_ENV, QDRANT_KEY_ENV = "PLAYGROUND_QDRANT_URL", "PLAYGROUND_QDRANT_API_KEY"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # where it looked and, on failure, what went wrong (never a secret)


def check_data_dir(settings: Settings) -> Check:
    folder = Path(settings.data_dir).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".health.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return Check("data_dir", False, f"{folder}: {type(exc).__name__}: {exc.strerror or exc}")
    return Check("data_dir", True, str(folder))


def check_ledger(settings: Settings) -> Check:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from core.usage_engine import display_url, make_engine, redact, short_error, unparsed
    from core.usage_ledger import ledger_url

    raw = ledger_url(settings)
    try:
        url = make_url(raw)
    except Exception:
        return Check("ledger", False, f"{unparsed(raw)}: not a database URL")
    shown = display_url(url)
    try:
        engine = make_engine(url)
    except Exception as exc:
        return Check("ledger", False, f"{shown}: {redact(f'{type(exc).__name__}: {exc}', url)[:300]}")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return Check("ledger", False, f"{shown}: {redact(short_error(exc), url)[:300]}")
    finally:
        engine.dispose()
    return Check("ledger", True, shown)


def _get(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=dict(headers or {}))
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
        return resp.status, resp.read(200).decode("utf-8", "replace").strip()


def check_qdrant(settings: Settings) -> Check | None:
    """The Qdrant server's /readyz; None when no server is configured (local mode on disk). A
    user:password@ in the URL is never printed."""
    from core.usage_engine import redact

    base = settings.get(QDRANT_URL_ENV)
    if not base:
        return None
    key = settings.get(QDRANT_KEY_ENV)
    target = base.rstrip("/") + "/readyz"
    try:
        status, _body = _get(target, {"api-key": key} if key else None)
    except urllib.error.HTTPError as exc:
        return Check("qdrant", False, redact(f"{base}: HTTP {exc.code}"))
    except (OSError, ValueError) as exc:
        return Check("qdrant", False, redact(f"{base}: {type(exc).__name__}: {getattr(exc, 'reason', exc)}"))
    return Check("qdrant", status == 200, redact(f"{base}" + ("" if status == 200 else f": HTTP {status}")))


def check_app(url: str) -> Check:
    target = url.rstrip("/") + "/_stcore/health"
    try:
        status, body = _get(target)
    except (OSError, ValueError) as exc:
        return Check("app", False, f"{target}: {type(exc).__name__}")
    return Check("app", status == 200 and body == "ok", f"{target}: {body[:40]}")


def read_secrets(path: Path) -> dict[str, Any]:
    """The secrets file as the app reads it ({} when there is none)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def run_checks(settings: Settings, app_url: str | None = None) -> list[Check]:
    checks = [check_data_dir(settings), check_ledger(settings)]
    qdrant = check_qdrant(settings)
    if qdrant is not None:
        checks.append(qdrant)
    if app_url:
        checks.append(check_app(app_url))
    return checks


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m core.health", description=__doc__.splitlines()[0])
    parser.add_argument("--secrets", default=".streamlit/secrets.toml", help="the app's secrets file")
    parser.add_argument("--app", default=None, help="also check the app at this URL (its /_stcore/health)")
    args = parser.parse_args(argv)
    try:
        secrets = read_secrets(Path(args.secrets))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        print(f"FAIL secrets  {args.secrets}: {type(exc).__name__}")
        return 1
    checks = run_checks(Settings.load(secrets), args.app)
    for check in checks:
        print(f"{'ok  ' if check.ok else 'FAIL'} {check.name:<9} {check.detail}")
    return 0 if all(check.ok for check in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())

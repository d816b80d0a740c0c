"""`python -m core.health`: the data folder, the ledger's database, the Qdrant server and the app,
each reported in one line without secrets; exit 0 only when all pass."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from core.config import Settings
from core.health import check_app, check_ledger, check_qdrant, run_checks

ROOT = Path(__file__).resolve().parents[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    ready = True
    seen_keys: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen_keys.append(self.headers.get("api-key") or "")
        if self.path == "/readyz":
            self._reply(200 if type(self).ready else 503, "all shards are ready")
        elif self.path == "/_stcore/health":
            self._reply(200, "ok")
        else:
            self._reply(404, "no")

    def _reply(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def fake_server() -> Iterator[str]:
    """A stand-in for Qdrant's /readyz and Streamlit's /_stcore/health on 127.0.0.1."""
    _Handler.ready, _Handler.seen_keys = True, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_all_checks_pass_with_sqlite_qdrant_and_the_app(tmp_path: Path, fake_server: str) -> None:
    settings = Settings(env={"PLAYGROUND_DATA_DIR": str(tmp_path), "PLAYGROUND_QDRANT_URL": fake_server,
                             "PLAYGROUND_QDRANT_API_KEY": "qdrant-secret"}, secrets={})
    checks = run_checks(settings, app_url=fake_server)
    assert [(c.name, c.ok) for c in checks] == [("data_dir", True), ("ledger", True), ("qdrant", True),
                                                ("app", True)]
    assert _Handler.seen_keys[0] == "qdrant-secret"  # the key is sent, never printed
    assert all("qdrant-secret" not in c.detail for c in checks)


def test_failures_say_where_without_the_password(tmp_path: Path, fake_server: str) -> None:
    _Handler.ready = False
    settings = Settings(env={"PLAYGROUND_DATA_DIR": str(tmp_path), "PLAYGROUND_QDRANT_URL": fake_server,
                             "PLAYGROUND_DB_URL": "postgresql+nosuchdriver://bob:db-s3cret@10.0.0.9/usage"},
                        secrets={})
    ledger = check_ledger(settings)
    assert not ledger.ok and "10.0.0.9" in ledger.detail and "db-s3cret" not in ledger.detail
    qdrant = check_qdrant(settings)
    assert qdrant is not None and not qdrant.ok and "503" in qdrant.detail
    assert not check_app("http://127.0.0.1:9").ok  # nothing listens on the discard port
    assert check_qdrant(Settings(env={}, secrets={})) is None  # local Qdrant on disk: nothing to ask


def test_a_qdrant_url_with_credentials_is_never_printed(tmp_path: Path, fake_server: str) -> None:
    with_user = fake_server.replace("http://", "http://ana:qd-s3cret@")
    settings = Settings(env={"PLAYGROUND_DATA_DIR": str(tmp_path), "PLAYGROUND_QDRANT_URL": with_user},
                        secrets={})
    qdrant = check_qdrant(settings)
    assert qdrant is not None and "127.0.0.1" in qdrant.detail and "qd-s3cret" not in qdrant.detail
    assert all("qd-s3cret" not in c.detail for c in run_checks(settings))

def test_the_command_exits_0_when_healthy_and_1_when_not(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'PLAYGROUND_DATA_DIR = "{tmp_path / "data"}"\n', encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-m", "core.health", "--secrets", str(secrets)], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[0].startswith("ok   data_dir") and "usage.sqlite" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "core.health", "--secrets", str(secrets)], cwd=ROOT,
                         env={**env, "PLAYGROUND_DB_URL": "postgresql+nosuchdriver://u:pw-x@h/db"},
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "FAIL ledger" in bad.stdout and "pw-x" not in bad.stdout

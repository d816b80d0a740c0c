"""Browser fixtures: the fake LLM in-process, the app as a real `streamlit run`, headless chromium.

One streamlit process per module (module-scoped fixtures), one chromium per session, and a fresh
browser context (= a fresh Streamlit session) per test. Nothing sleeps a fixed time: everything
waits on the health endpoint, a selector or an `expect` condition with a deadline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.chromium import APP_READY, CHROMIUM, CHROMIUM_ARGS
from tests.fake_llm import FakeLLMServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
VIEWPORT = {"width": 1400, "height": 900}
# Variables that could point the app at a real provider or key: never passed to the app.
DROP_PREFIXES = ("ZHIPUAI_", "OPENAI_", "DASHSCOPE_", "PLAYGROUND_", "ZAI_", "STREAMLIT_")
STARTUP_TIMEOUT_S = 60.0
LOG_TAIL_LINES = 200


def base_port() -> int:
    """The product's port; another port when something else (a benchmark) is using 7020."""
    return int(os.environ.get("PLAYGROUND_TEST_PORT") or 7020)


def _port_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
            return True
    except (OSError, urllib.error.URLError):
        return False


@dataclass
class AppServer:
    """A running `streamlit run app.py`, its URL and its log (stdout + stderr)."""

    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    llm: FakeLLMServer
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_healthy(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                    last = resp.read().decode(errors="replace").strip()
                    if last == "ok":
                        return
            except (OSError, urllib.error.URLError) as exc:
                last = repr(exc)
            time.sleep(0.1)  # polling interval of a deadline loop, not a fixed wait
        raise RuntimeError(f"streamlit not healthy after {timeout_s} s ({last}):\n{self.log()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def app_env(llm: FakeLLMServer, data_dir: Path, *, api_key: str | None) -> dict[str, str]:
    """os.environ without any provider variables, plus the fake server (and a fake key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROP_PREFIXES)}
    env.update({
        "ZHIPUAI_BASE_URL": llm.zhipu_base_url,
        "PLAYGROUND_BACKEND": "zhipu",
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "PLAYGROUND_TIMEOUT_S": "30",
        "PYTHONUNBUFFERED": "1",
    })
    if api_key:
        env["ZHIPUAI_API_KEY"] = api_key
    return env


def start_app(llm: FakeLLMServer, tmp: Path, port: int, *, api_key: str | None,
              secrets: str | None = None) -> AppServer:
    """`streamlit run app.py` on `port` against the fake LLM; `secrets` (TOML text) becomes its
    secrets file, else it has none."""
    if _port_answers(port):
        raise RuntimeError(f"port {port} is already serving something: choose another test port")
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets_path = tmp / ("secrets.toml" if secrets is not None else "no-secrets.toml")
    if secrets is not None:
        secrets_path.write_text(secrets, encoding="utf-8")
    log_path = tmp / f"streamlit-{port}.log"
    cmd = [str(ROOT / ".venv" / "bin" / "streamlit"), "run", "app.py",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           # The code under test is the code at start: no reloads while someone edits files.
           "--server.fileWatcherType", "none", "--server.runOnSave", "false",
           # A developer's real .streamlit/secrets.toml must never reach the tests.
           "--secrets.files", str(secrets_path)]
    if not Path(cmd[0]).exists():
        cmd[0:1] = [sys.executable, "-m", "streamlit"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=app_env(llm, data_dir, api_key=api_key),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = AppServer(port=port, proc=proc, log_path=log_path, llm=llm, data_dir=data_dir)
    try:
        server.wait_healthy()
    except BaseException:
        server.stop()
        raise
    return server


# ---- failure reporting: screenshots and the app's log under a failed test -----------------------
_FAILED = pytest.StashKey[list[str]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.failed:
        item.stash.setdefault(_FAILED, []).append(report.when)
    return report


# ---- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slow_llm() -> Iterator[FakeLLMServer]:
    """The fake LLM with 0.05 s between tokens, so streaming is visible."""
    with FakeLLMServer(token_delay=0.05) as server:
        yield server


def _app_fixture(llm: FakeLLMServer, factory: pytest.TempPathFactory, port: int,
                 api_key: str | None) -> Iterator[AppServer]:
    server = start_app(llm, factory.mktemp(f"app{port}"), port, api_key=api_key)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def app_server(slow_llm: FakeLLMServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app with ZHIPUAI_API_KEY=test.key, on PLAYGROUND_TEST_PORT or 7020."""
    yield from _app_fixture(slow_llm, tmp_path_factory, base_port(), "test.key")


@pytest.fixture(scope="module")
def keyless_app_server(slow_llm: FakeLLMServer,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app with no API key anywhere, on the next port."""
    yield from _app_fixture(slow_llm, tmp_path_factory, base_port() + 1, None)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright

    # A loaded 2-core CI machine redraws slowly: give every `expect` 10 s, not 5.
    expect.set_options(timeout=10_000)

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def open_app(browser, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """open_app(server, locale="en-US", path="", chat=True) -> a page showing the app (at `path`,
    e.g. "?c=<id>"), fully run once; with `chat`, once the chat input is there too (not behind the
    sign-in gate).

    Each call is a new browser context, i.e. a new Streamlit session with its own state.
    """
    contexts = []
    servers: list[AppServer] = []

    def _open(server: AppServer, locale: str = "en-US", path: str = "",  # type: ignore[no-untyped-def]
              chat: bool = True):
        server.llm.reset()
        context = browser.new_context(locale=locale, viewport=VIEWPORT)
        context.set_default_timeout(15_000)
        contexts.append(context)
        servers.append(server)
        page = context.new_page()
        page.goto(server.url + path)
        page.wait_for_selector(APP_READY, timeout=30_000)
        if chat:
            page.get_by_test_id("stChatInputTextArea").wait_for(state="visible", timeout=30_000)
        return page

    yield _open
    failed = request.node.stash.get(_FAILED, [])
    if failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for i, context in enumerate(contexts):
            for j, page in enumerate(context.pages):
                try:
                    page.screenshot(path=ARTIFACTS / f"FAILED-{request.node.name}-{i}{j}.png",
                                    full_page=True)
                except Exception:
                    pass
        for server in {id(s): s for s in servers}.values():  # app output, under the failed test
            tail = "\n".join(server.log().splitlines()[-LOG_TAIL_LINES:])
            sys.stderr.write(f"\n---- streamlit on port {server.port}, {server.log_path} ----\n{tail}\n")
    for context in contexts:
        context.close()


@pytest.fixture
def shot() -> Callable[..., Path]:
    """shot(page, name): save a screenshot under test-artifacts/ and return its path."""

    def _shot(page, name: str, full_page: bool = False) -> Path:  # type: ignore[no-untyped-def]
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=path, full_page=full_page)
        return path

    return _shot

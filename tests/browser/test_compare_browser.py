"""The Compare & migrate page in a real browser: two targets streaming side by side on the fake server.

The app runs as `streamlit run app.py` on PLAYGROUND_TEST_PORT (7045 by default for this module),
with Zhipu (zhipuai SDK) and an OpenAI-compatible custom URL both pointed at the in-process fake
LLM (0.05 s between tokens). Screenshots go to test-artifacts/compare-*.png.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import (
    APP_READY,
    CHROMIUM,
    ROOT,
    AppServer,
    _port_answers,
    app_env,
)
from tests.fake_llm import FakeLLMServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} missing: install Debian chromium (apt-get install -y chromium)"),
]

CURSOR = "▌"


def compare_port() -> int:
    return int(os.environ.get("PLAYGROUND_TEST_PORT") or 7045)


@pytest.fixture(scope="module")
def compare_server(slow_llm: FakeLLMServer,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app with both backends on the fake server (keys from the environment)."""
    port = compare_port()
    if _port_answers(port):
        raise RuntimeError(f"port {port} is already serving something: set PLAYGROUND_TEST_PORT")
    tmp = tmp_path_factory.mktemp(f"compare{port}")
    data_dir = tmp / "data"
    data_dir.mkdir()
    env = app_env(slow_llm, data_dir, api_key="test.key") | {
        "OPENAI_BASE_URL": slow_llm.openai_base_url, "OPENAI_API_KEY": "sk-browser-test"}
    log_path = tmp / "streamlit.log"
    cmd = [str(ROOT / ".venv" / "bin" / "streamlit"), "run", "app.py", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--server.runOnSave", "false", "--secrets.files", str(tmp / "no-secrets.toml")]
    if not Path(cmd[0]).exists():
        cmd[0:1] = [sys.executable, "-m", "streamlit"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    server = AppServer(port=port, proc=proc, log_path=log_path, llm=slow_llm, data_dir=data_dir)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser, compare_server: AppServer) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A fresh browser context (a new Streamlit session); the app's log tail goes to the captured
    stderr, which pytest shows under a failed test."""
    compare_server.llm.reset()
    context = browser.new_context(locale="en-US", viewport={"width": 1500, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        sys.stderr.write("\n".join(compare_server.log().splitlines()[-40:]) + "\n")
        context.close()


def open_compare(page: Page, server: AppServer) -> None:
    page.goto(f"{server.url}/compare")
    page.wait_for_selector(APP_READY, timeout=30_000)
    expect(page.get_by_role("heading", name="Compare & migrate")).to_be_visible()


def ask(page: Page, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.click()
    box.fill(text)
    box.press("Enter")


def answer_columns(page: Page) -> Locator:
    """The columns showing an answer of at least three of the fake's words (w0 w1 w2 ...)."""
    return page.get_by_test_id("stColumn").filter(has_text="w0 w1 w2")


def words(text: str) -> list[str]:
    return re.findall(r"\bw\d+\b", text)


def test_two_targets_stream_side_by_side(page: Page, compare_server: AppServer,
                                        shot) -> None:  # type: ignore[no-untyped-def]
    open_compare(page, compare_server)
    # A first short round: each SDK is imported on its first call (seconds on a busy machine),
    # which would start one column late and blur what this test looks at.
    ask(page, "Warm up [[tokens:2]]")
    expect(page.get_by_role("heading", name="Round 1")).to_be_visible(timeout=30_000)
    page.wait_for_selector(APP_READY, timeout=30_000)
    ask(page, "Count for me [[tokens:80]]")

    # Both columns grow at the same time: each shows some words and a cursor, neither is done.
    deadline = time.monotonic() + 20
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = answer_columns(page).all_inner_texts()
        if len(seen) == 2 and all(len(words(t)) >= 5 for t in seen):
            break
        page.wait_for_timeout(50)  # polling interval under a deadline
    if len(seen) != 2:
        shot(page, "FAILED-compare-streaming", full_page=True)
    assert len(seen) == 2, seen
    assert all(CURSOR in t and "w79" not in t for t in seen), seen
    shot(page, "compare-01-streaming", full_page=True)

    # Both finish: every word, no cursor, the timing, tokens and cost under each.
    columns = answer_columns(page)
    expect(columns.first).to_contain_text("w79", timeout=30_000)
    expect(columns.last).to_contain_text("w79", timeout=30_000)
    page.wait_for_selector(APP_READY, timeout=30_000)
    texts = answer_columns(page).all_inner_texts()
    assert len(texts) == 2, texts
    for text in texts:
        assert CURSOR not in text
        assert words(text) == [f"w{i}" for i in range(80)]
        assert re.search(r"first token \d+\.\d\d s", text) and "80 completion tokens" in text, text
    assert "glm-4-plus" in texts[0] and "gpt-4o" in texts[1]
    paths = sorted(r["path"] for r in compare_server.llm.requests[-2:])
    assert paths == ["/api/paas/v4/chat/completions", "/v1/chat/completions"]
    shot(page, "compare-02-done", full_page=True)

    # A vote for column B is shown on it.
    page.get_by_role("button", name="Best answer").last.click()
    expect(page.get_by_text("Votes so far: B · gpt-4o: 1")).to_be_visible()
    # The keys never reach the page.
    html = page.content()
    assert "test.key" not in html and "sk-browser-test" not in html


def test_a_saved_conversation_opens_on_the_chat_page(page: Page, compare_server: AppServer) -> None:
    page.goto(compare_server.url)
    page.wait_for_selector(APP_READY, timeout=30_000)
    ask(page, "Remember me [[tokens:3]]")
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2)
    open_compare(page, compare_server)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Saved conversations").click()
    sidebar.get_by_role("button", name="Remember me [[tokens:3]]").click()  # from the compare page
    # On the chat page (the default page, so its path may be empty), with the conversation's id.
    expect(page).to_have_url(re.compile(rf":{compare_server.port}/(chat)?\?c=[0-9a-f]{{32}}$"))
    expect(page.get_by_test_id("stChatMessage").first).to_contain_text("Remember me")


def test_stop_keeps_what_each_column_received(page: Page, compare_server: AppServer) -> None:
    open_compare(page, compare_server)
    ask(page, "Tell me everything [[tokens:400]]")
    columns = answer_columns(page)
    expect(columns).to_have_count(2, timeout=30_000)
    expect(columns.first).to_contain_text("w5 ")
    expect(columns.last).to_contain_text("w5 ")
    page.locator(".st-key-cmp-stop").get_by_role("button").click()
    expect(page.get_by_role("heading", name="Round 1")).to_be_visible(timeout=30_000)
    page.wait_for_selector(APP_READY, timeout=30_000)
    texts = answer_columns(page).all_inner_texts()
    assert len(texts) == 2, texts
    for text in texts:
        got = words(text)
        assert got == [f"w{i}" for i in range(len(got))] and "w399" not in got, text
        assert "stopped" in text and CURSOR not in text, text

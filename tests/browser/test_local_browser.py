"""Two people share one local model in real browsers: the second waits and sees its place in line,
the first stops, and the second's answer then streams in.

The app runs as `streamlit run app.py` with PLAYGROUND_BACKEND=local and a small random GLM-4
(no end token, so an answer runs until Stop or max new tokens). Port 7041
(PLAYGROUND_LOCAL_TEST_PORT to change).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CHROMIUM, DROP_PREFIXES, ROOT, AppServer, _port_answers
from tests.fake_llm import FakeLLMServer
from tests.tiny_glm import build_native

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} missing: install Debian chromium (apt-get install -y chromium)"),
]

PORT = int(os.environ.get("PLAYGROUND_LOCAL_TEST_PORT") or 7041)


def endless_model(folder: Path) -> Path:
    """A GLM-4 big enough to take a few ms per token, with no end token in its generation config."""
    build_native(folder, hidden=256, layers=4)
    config_file = folder / "generation_config.json"
    config = json.loads(config_file.read_text())
    config["eos_token_id"] = None
    config_file.write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def local_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    if _port_answers(PORT):
        raise RuntimeError(f"port {PORT} is already serving something: set PLAYGROUND_LOCAL_TEST_PORT")
    tmp = tmp_path_factory.mktemp("local-app")
    model = endless_model(tmp / "glm")
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROP_PREFIXES)}
    env.update({"PLAYGROUND_BACKEND": "local", "PLAYGROUND_LOCAL_MODEL": str(model),
                "PLAYGROUND_DATA_DIR": str(tmp / "data"), "PLAYGROUND_TIMEOUT_S": "60",
                "PYTHONUNBUFFERED": "1"})
    log_path = tmp / "streamlit.log"
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(PORT),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats",
           "false", "--server.fileWatcherType", "none", "--server.runOnSave", "false",
           "--secrets.files", str(tmp / "no-secrets.toml")]
    with log_path.open("wb") as log, FakeLLMServer() as unused_llm:  # open_app resets one per page
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        server = AppServer(port=PORT, proc=proc, log_path=log_path, llm=unused_llm, data_dir=tmp / "data")
        try:
            server.wait_healthy()
            yield server
        finally:
            server.stop()


def send(page: Page, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.click()
    box.fill(text)
    box.press("Enter")


def set_max_new_tokens(page: Page, value: int) -> None:
    box = page.get_by_test_id("stSidebar").get_by_role("spinbutton", name="Max new tokens")
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")


def test_a_second_user_waits_in_line_then_gets_the_model(local_app: AppServer, open_app, shot) -> None:
    first = open_app(local_app)
    set_max_new_tokens(first, 2000)  # far longer than the test: it ends with Stop
    send(first, "Tell me a story about a small model that runs on a CPU.")
    first_answer = first.get_by_test_id("stChatMessage").filter(
        has=first.get_by_test_id("stChatMessageAvatarAssistant")).last
    expect(first_answer.get_by_role("button", name="Stop")).to_be_visible(timeout=60_000)
    expect(first_answer).to_contain_text("▌", timeout=60_000)  # the model is writing

    second = open_app(local_app)
    set_max_new_tokens(second, 32)
    send(second, "What is the capital of France?")
    waiting = second.get_by_text("Waiting for the model: 1 answer(s) ahead of you")
    expect(waiting).to_be_visible(timeout=30_000)
    shot(second, "local-01-waiting-in-line")

    first_answer.get_by_role("button", name="Stop").click()
    expect(first_answer.get_by_test_id("stCaptionContainer")).to_contain_text("stopped", timeout=30_000)

    second_answer = second.get_by_test_id("stChatMessage").filter(
        has=second.get_by_test_id("stChatMessageAvatarAssistant")).last
    expect(second_answer.get_by_test_id("stCaptionContainer")).to_contain_text(
        "completion tokens", timeout=120_000)
    expect(waiting).to_have_count(0)
    shot(second, "local-02-answered-after-waiting")

"""The chat page in a real browser: what a person sees while answers stream, stop and fail.

Headless Debian chromium drives `streamlit run app.py` against the in-process fake LLM
(0.05 s between tokens). Screenshots go to test-artifacts/ (with FAILED-* ones for a failed test);
UPDATE_README_SCREENSHOT=1 also refreshes docs/screenshot.png.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from core.i18n import t
from tests.browser.conftest import CHROMIUM, ROOT, AppServer
from tests.fake_llm import server as fake_server_module
from tests.fake_llm.scenarios import Reply, split_chunks

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} missing: install Debian chromium (apt-get install -y chromium)"),
]

CURSOR = "▌"
EN_PLACEHOLDER = "Type a message and press Enter"
ZH_PLACEHOLDER = "输入消息，按回车发送"


# ---- helpers: what a person looks at ------------------------------------------------------------
def chat_input(page: Page) -> Locator:
    return page.get_by_test_id("stChatInputTextArea")


def send(page: Page, text: str) -> None:
    """Type into the chat input and press Enter, as a person does."""
    box = chat_input(page)
    box.click()
    box.fill(text)
    box.press("Enter")


def assistant_messages(page: Page) -> Locator:
    return page.get_by_test_id("stChatMessage").filter(
        has=page.get_by_test_id("stChatMessageAvatarAssistant"))


def user_messages(page: Page) -> Locator:
    return page.get_by_test_id("stChatMessage").filter(
        has=page.get_by_test_id("stChatMessageAvatarUser"))


def words(text: str) -> list[str]:
    """The fake's `[[tokens:N]]` words (w0 w1 …) in a text, in order."""
    return re.findall(r"\bw\d+\b", text)


def run_button(page: Page) -> Locator:
    # A button with help text is drawn twice (one copy hidden, for measuring): take the visible one.
    return page.locator(".st-key-chat-run").get_by_role("button")


def language(page: Page, name: str) -> Locator:
    return page.get_by_test_id("stSidebar").get_by_role("radio", name=name)


def switch_language(page: Page, name: str, run_label: str) -> None:
    language(page, name).click()
    expect(run_button(page)).to_contain_text(run_label)
    expect(language(page, name)).to_have_attribute("aria-checked", "true")


def subtitle(page: Page) -> Locator:
    """The line under the page title: backend · model."""
    return page.get_by_test_id("stMainBlockContainer").get_by_test_id("stCaptionContainer").first


def wait_idle(page: Page) -> None:
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")


def open_streams(server: AppServer) -> int:
    """Connections the fake server is still serving (the in-process server's own bookkeeping)."""
    with server.llm._lock:
        return len(server.llm._conns)


def assert_hung_up(page: Page, server: AppServer, while_streaming: int) -> None:
    """The app closed the answer's connection instead of reading the rest of it."""
    deadline = time.monotonic() + 10
    while open_streams(server) >= while_streaming and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # polling interval under a deadline
    assert open_streams(server) < while_streaming, "the stream is still being read after Stop"


# ---- 1. streaming ---------------------------------------------------------------------------------
def test_answer_streams_in_then_shows_stats(app_server: AppServer, open_app, shot) -> None:
    page = open_app(app_server)
    send(page, "Count for me [[tokens:60]]")

    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).first).to_contain_text("Count for me")
    answer = assistant_messages(page).last
    # While streaming: some words, a cursor, not the last word.
    expect(answer).to_contain_text("w3 ")
    early = answer.inner_text()
    assert CURSOR in early and "w59" not in early, early
    shot(page, "01-streaming-early")
    # Still streaming, and it has grown.
    expect(answer).to_contain_text("w25 ")
    later = answer.inner_text()
    assert "w59" not in later, "the whole reply arrived at once instead of streaming"
    assert len(words(later)) > len(words(early)), (early, later)
    shot(page, "01-streaming-later")

    # Complete: every word, no cursor, no Stop button, and the stats line under it.
    expect(answer).to_contain_text("w59")
    expect(answer.get_by_test_id("stCaptionContainer")).to_contain_text(
        re.compile(r"first token \d+\.\d\d s .*\d+ prompt \+ 60 completion tokens"))
    expect(answer).not_to_contain_text(CURSOR)
    expect(answer.get_by_role("button", name="Stop")).to_have_count(0)
    assert words(answer.inner_text()) == [f"w{i}" for i in range(60)]
    expect(assistant_messages(page)).to_have_count(1)
    expect(run_button(page)).to_be_enabled()
    shot(page, "01-complete")


# ---- 2. stop ----------------------------------------------------------------------------------------
def _start_long_answer(page: Page) -> tuple[Locator, list[str]]:
    send(page, "Tell me everything [[tokens:400]]")
    answer = assistant_messages(page).last
    expect(answer).to_contain_text("w8 ")
    seen = words(answer.inner_text())
    assert "w399" not in seen
    return answer, seen


def _assert_stopped(page: Page, seen_before_stop: list[str]) -> list[str]:
    """One assistant message, marked stopped, keeping at least what was seen, far from complete."""
    answers = assistant_messages(page)
    expect(answers).to_have_count(1)
    answer = answers.first
    caption = answer.get_by_test_id("stCaptionContainer")
    expect(caption).to_contain_text("stopped: partial answer")
    expect(answer).not_to_contain_text(CURSOR)
    kept = words(answer.inner_text())
    assert kept[: len(seen_before_stop)] == seen_before_stop, "text seen before Stop was lost"
    assert kept == [f"w{i}" for i in range(len(kept))]
    assert 0 < len(kept) < 400, f"{len(kept)} words kept: the answer was not cut short"
    return kept


def test_stop_button_in_the_answer_keeps_the_partial_text(app_server: AppServer, open_app,
                                                          shot) -> None:
    page = open_app(app_server)
    answer, seen = _start_long_answer(page)
    streaming = open_streams(app_server)
    shot(page, "02-before-stop")

    answer.get_by_role("button", name="Stop").click()

    kept = _assert_stopped(page, seen)
    wait_idle(page)
    shot(page, "02-stopped-in-answer")
    # The page stays as it is: nothing more arrives after the stop.
    after = words(assistant_messages(page).first.inner_text())
    assert after == kept
    assert_hung_up(page, app_server, streaming)
    # The conversation carries on normally after a stop.
    send(page, "Next question")
    expect(assistant_messages(page)).to_have_count(2)
    expect(assistant_messages(page).last).to_contain_text("Echo: Next question")


def test_chat_input_waits_while_an_answer_streams(app_server: AppServer, open_app, shot) -> None:
    """One clear way to stop: the Stop button in the answer. The input box waits meanwhile
    (a stop from the input box would end the run without redrawing, leaving a stale screen)."""
    page = open_app(app_server)
    answer, seen = _start_long_answer(page)
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_disabled()
    expect(page.get_by_test_id("stChatInputStopButton")).to_have_count(0)
    shot(page, "02-input-waits-while-streaming")

    answer.get_by_role("button", name="Stop").click()

    _assert_stopped(page, seen)
    expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled()
    # The stopped mark is translated like everything else.
    switch_language(page, "中文", "运行")
    expect(assistant_messages(page).first.get_by_test_id("stCaptionContainer")).to_contain_text(
        "已停止：回答不完整")
    switch_language(page, "English", "Run")
    shot(page, "02-stopped-after-language-switch")


# ---- 3. language ------------------------------------------------------------------------------------
def test_language_switch_changes_labels(app_server: AppServer, open_app, shot) -> None:
    page = open_app(app_server)
    expect(run_button(page)).to_contain_text("Run")
    expect(chat_input(page)).to_have_attribute("placeholder", EN_PLACEHOLDER)

    switch_language(page, "中文", "运行")
    expect(chat_input(page)).to_have_attribute("placeholder", ZH_PLACEHOLDER)
    expect(page.get_by_role("heading", name="对话")).to_be_visible()
    expect(page.get_by_test_id("stSidebar")).to_contain_text("参数")
    shot(page, "03-chinese")

    switch_language(page, "English", "Run")
    expect(chat_input(page)).to_have_attribute("placeholder", EN_PLACEHOLDER)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Parameters")


def test_language_switch_keeps_the_chosen_model(app_server: AppServer, open_app, shot) -> None:
    """The sidebar's choices are relabelled, not replaced by a stale label, when the language changes."""
    page = open_app(app_server)
    sidebar = page.get_by_test_id("stSidebar")
    flash = {lang: f"glm-4-flash — {t('model.free_tier', lang)}" for lang in ("en", "zh")}
    sidebar.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name=flash["en"]).click()
    expect(sidebar.get_by_role("combobox", name="Model")).to_have_value(flash["en"])
    expect(subtitle(page)).to_contain_text("· glm-4-flash")  # the app has taken the choice

    switch_language(page, "中文", "运行")
    expect(sidebar.get_by_role("combobox", name="后端")).to_have_value(t("backend.zhipu", "zh"))
    expect(sidebar.get_by_role("combobox", name="模型")).to_have_value(flash["zh"])
    expect(subtitle(page)).to_have_text(f"{t('backend.zhipu', 'zh')} · glm-4-flash")
    shot(page, "03-chinese-model-kept")
    send(page, "Which model is this?")
    expect(assistant_messages(page).last).to_contain_text("Echo: Which model is this?")
    wait_idle(page)
    assert app_server.llm.requests[-1]["json"]["model"] == "glm-4-flash"
    expect(sidebar.get_by_role("combobox", name="模型")).to_have_value(flash["zh"])


@pytest.mark.parametrize(("locale", "run", "placeholder", "chosen"), [
    ("zh-CN", "运行", ZH_PLACEHOLDER, "中文"),
    ("en-US", "Run", EN_PLACEHOLDER, "English"),
], ids=["zh-CN", "en-US"])
def test_first_load_follows_the_browser_language(app_server: AppServer, open_app, shot, locale: str,
                                                 run: str, placeholder: str, chosen: str) -> None:
    page = open_app(app_server, locale=locale)
    expect(run_button(page)).to_contain_text(run)
    expect(chat_input(page)).to_have_attribute("placeholder", placeholder)
    expect(language(page, chosen)).to_have_attribute("aria-checked", "true")
    shot(page, f"03-first-load-{locale}")


# ---- 4. errors --------------------------------------------------------------------------------------
def test_balance_error_is_explained_and_the_message_kept(app_server: AppServer, open_app,
                                                         shot) -> None:
    page = open_app(app_server)
    send(page, "Plan a weekend in Hangzhou [[scenario:balance_1113]]")

    alert = page.get_by_test_id("stAlert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("1113")
    expect(alert).to_contain_text("No balance or quota left")
    expect(alert).to_contain_text("Top up")
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).first).to_contain_text("Plan a weekend in Hangzhou")
    expect(assistant_messages(page)).to_have_count(0)
    assert len(app_server.llm.requests) == 1, "a balance error must not be retried"
    shot(page, "04-error-1113")


# ---- 5. a typed API key stays out of the page ------------------------------------------------------
SECRET = "sk-SECRET-browser-1234567890"


def test_typed_api_key_never_reaches_the_page(keyless_app_server: AppServer, open_app, shot) -> None:
    page = open_app(keyless_app_server)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("No API key yet")

    key_box = sidebar.get_by_placeholder("Paste your key and press Enter")
    key_box.fill(SECRET)
    key_box.press("Enter")
    expect(sidebar).to_contain_text("…7890")
    expect(sidebar).not_to_contain_text("No API key yet")
    # The field the key was typed into is gone once the run ends (until then the browser still
    # shows what the person typed, which is not something the app sent back).
    expect(key_box).to_have_count(0)
    expect(sidebar.get_by_role("button", name="Forget this key")).to_be_visible()
    wait_idle(page)
    assert SECRET not in page.content()

    send(page, "Hello with my own key")
    expect(assistant_messages(page).last).to_contain_text("Echo: Hello with my own key")
    wait_idle(page)
    shot(page, "05-typed-key")
    requests = keyless_app_server.llm.requests
    assert requests and requests[-1]["headers"].get("authorization") == f"Bearer {SECRET}"
    html = page.content()
    assert SECRET not in html and SECRET[3:-4] not in html
    assert SECRET not in keyless_app_server.log(), "the key was written to the server log"


# ---- 6. the README screenshot ------------------------------------------------------------------------
README_SYSTEM = "You are a concise assistant for a travel company."
README_QUESTION = "What should I pack for three days in Kyoto in early April?"
README_ANSWER = (
    "Three days in Kyoto in early April:\n\n"
    "- **Layers**: days are about 15–19 °C, evenings drop to 6–8 °C.\n"
    "- **Comfortable walking shoes** that slip off easily: many temples ask you to remove them.\n"
    "- **A compact umbrella**: April showers are common.\n"
    "- **An IC card** (ICOCA) for buses and trains.\n\n"
    "It is cherry-blossom season, so book popular spots and restaurants ahead."
)


def test_readme_screenshot(app_server: AppServer, open_app, shot,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    original = fake_server_module.build_reply

    def travel_reply(body: dict[str, Any], scenario: Any, tokens: int | None, text: str) -> Reply:
        reply = original(body, scenario, tokens, text)
        if text == README_QUESTION:
            reply.chunks = split_chunks(README_ANSWER)
        return reply

    monkeypatch.setattr(fake_server_module, "build_reply", travel_reply)
    page = open_app(app_server)
    system = page.get_by_test_id("stTextArea").filter(has_text="System message").locator("textarea")
    system.fill(README_SYSTEM)
    system.press("Tab")  # a text area keeps its value when it loses focus
    wait_idle(page)
    send(page, README_QUESTION)
    answer = assistant_messages(page).last
    expect(answer.get_by_test_id("stCaptionContainer")).to_contain_text("completion tokens",
                                                                        timeout=15_000)
    expect(answer).to_contain_text("cherry-blossom season")
    wait_idle(page)
    sent = app_server.llm.requests[-1]["json"]["messages"]
    assert sent[0] == {"role": "system", "content": README_SYSTEM}, sent
    # Show where a real install sends requests instead of the fake server's local address.
    page.get_by_test_id("stSidebar").get_by_text(app_server.llm.zhipu_base_url).evaluate(
        "(el, url) => { el.textContent = url; }", "https://open.bigmodel.cn/api/paas/v4")
    # Streamlit keeps the chat scrolled to the bottom; show the page from its title instead.
    page.get_by_role("heading", name="Chat", exact=True).scroll_into_view_if_needed()
    expect(page.get_by_role("heading", name="Chat", exact=True)).to_be_in_viewport()
    expect(answer.get_by_test_id("stCaptionContainer")).to_be_visible()
    path = shot(page, "06-readme")
    # The README's copy is replaced on request only, so that a test run leaves the repository clean.
    readme_copy = ROOT / "docs" / "screenshot.png"
    if os.environ.get("UPDATE_README_SCREENSHOT") == "1" or not readme_copy.exists():
        readme_copy.parent.mkdir(exist_ok=True)
        readme_copy.write_bytes(path.read_bytes())

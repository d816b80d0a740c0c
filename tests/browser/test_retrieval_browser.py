"""The Retrieval page in a real browser: create a knowledge base, upload files, ask, see the chunks,
the streamed answer and its sources, and find everything again after a refresh.

Headless Debian chromium drives `streamlit run app.py` on port 7044 (so it never collides with
the chat tests on 7020) against the in-process fake LLM, which echoes the filled template.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import APP_READY, CHROMIUM, AppServer, start_app
from tests.fake_llm import FakeLLMServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} missing: install Debian chromium (apt-get install -y chromium)"),
]

PORT = 7044
HANDBOOK = ("员工手册\n\n公司员工每年享有带薪年假。工作满1年不满10年的员工，年假5天；满10年的，年假10天。\n\n"
            "病假需要提供二级以上医院开具的证明。\n\n差旅报销需要在30天内提交发票和审批单。")
POLICY = "# Travel policy\n\nHotels are capped at 150 USD per night. Book economy flights in TravelDesk."


@pytest.fixture(scope="module")
def retrieval_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    with FakeLLMServer(token_delay=0.02) as llm:
        server = start_app(llm, tmp_path_factory.mktemp("retrieval-app"), PORT, api_key="test.key")
        try:
            yield server
        finally:
            server.stop()


def wait_idle(page: Page) -> None:
    page.wait_for_selector(APP_READY, timeout=30_000)


def open_retrieval(open_app, server: AppServer) -> Page:  # type: ignore[no-untyped-def]
    page = open_app(server)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Retrieval").click()
    expect(page.get_by_role("heading", name="Retrieval")).to_be_visible()
    wait_idle(page)
    return page


def test_upload_a_file_and_ask(retrieval_server: AppServer, open_app, shot) -> None:  # type: ignore[no-untyped-def]
    page = open_retrieval(open_app, retrieval_server)
    page.get_by_role("textbox", name="New knowledge base").fill("员工手册 KB")
    page.locator(".st-key-retrieval-kb-create").get_by_role("button").click()
    wait_idle(page)
    expect(page.get_by_role("combobox", name="Knowledge base")).to_have_value("员工手册 KB")

    page.locator("[class*='st-key-retrieval-files-'] input[type=file]").set_input_files([
        {"name": "员工手册.txt", "mimeType": "text/plain", "buffer": HANDBOOK.encode()},
        {"name": "policy.md", "mimeType": "text/markdown", "buffer": POLICY.encode()},
        {"name": "empty.txt", "mimeType": "text/plain", "buffer": b""},
    ])
    expect(page.locator("[class*='st-key-retrieval-files-']")).to_contain_text("empty.txt")
    wait_idle(page)
    page.locator(".st-key-retrieval-docs-add").get_by_role("button").click()
    alerts = page.get_by_test_id("stAlertContentSuccess")
    expect(alerts.filter(has_text="员工手册.txt")).to_contain_text("chunks")
    expect(alerts.filter(has_text="policy.md")).to_be_visible()
    expect(page.get_by_test_id("stAlertContentError").filter(has_text="empty.txt")).to_contain_text("empty")
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    shot(page, "retrieval-01-uploaded")

    page.get_by_role("tab", name="Ask").click()
    question = page.locator("[class*='st-key-retrieval-question-'] textarea")
    question.fill("病假需要什么证明？")
    question.press("Tab")  # commit the text before pressing Ask
    wait_idle(page)
    page.locator(".st-key-retrieval-ask-ask").get_by_role("button").click()

    answer = page.get_by_test_id("stChatMessage").last
    expect(answer).to_contain_text("Echo: From the documents")
    expect(answer).to_contain_text("二级以上医院", timeout=30_000)
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^\[1\] 员工手册\.txt · chunk \d+ \(characters \d+–\d+\) · score"))
           ).to_be_visible()
    expect(page.get_by_text("Sources", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"^✓ \[1\] 员工手册\.txt"))).to_be_visible()
    request = retrieval_server.llm.requests[-1]["json"]
    assert "二级以上医院" in request["messages"][0]["content"]
    assert request["messages"][0]["content"].count("{{") == 0
    shot(page, "retrieval-02-answer", full_page=True)

    page.reload()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Retrieval")).to_be_visible()
    page.get_by_role("tab", name="Ask").click()
    expect(page.get_by_test_id("stChatMessage").last).to_contain_text("二级以上医院")
    expect(page.locator("[class*='st-key-retrieval-question-'] textarea")).to_have_value("病假需要什么证明？")
    shot(page, "retrieval-03-after-refresh")

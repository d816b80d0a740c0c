"""A team deployment in a real browser: no page without the password, the app with it, sign-out, and
two people at once who each see only their own conversation (and key).

The app runs as `streamlit run` on port 7046 (PLAYGROUND_ACCESS_TEST_PORT to change) with its own
secrets file: a team password and a personal password for an admin.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from core.access import hash_password
from core.i18n import t
from tests.browser.conftest import APP_READY, CHROMIUM, AppServer, start_app
from tests.fake_llm import FakeLLMServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} missing: install Debian chromium (apt-get install -y chromium)"),
]

PORT = int(os.environ.get("PLAYGROUND_ACCESS_TEST_PORT") or 7046)
TEAM, ALICE = "lantern-harbor-19", "alice-only-pw-88"
SERVER_KEY = "test.key.server-side-0042"


def en(key: str, **values: object) -> str:
    return t(key, "en", **values)


@pytest.fixture(scope="module")
def team_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    secrets = (f'[access]\npassword_hash = "{hash_password(TEAM)}"\nadmins = ["alice"]\n\n'
               f'[access.users]\nalice = "{hash_password(ALICE)}"\n')
    with FakeLLMServer() as llm:
        server = start_app(llm, tmp_path_factory.mktemp("access"), PORT, api_key=SERVER_KEY,
                           secrets=secrets)
        try:
            yield server
        finally:
            server.stop()


def chat_input(page: Page) -> Locator:
    return page.get_by_test_id("stChatInputTextArea")


def messages(page: Page) -> Locator:
    return page.get_by_test_id("stChatMessage")


def sign_in(page: Page, name: str, password: str) -> None:
    page.get_by_role("textbox", name=en("access.name_any")).fill(name)
    page.get_by_role("textbox", name=en("access.password"), exact=True).fill(password)
    page.get_by_role("button", name=en("access.sign_in")).click()
    page.wait_for_selector(APP_READY)


def sign_in_ok(page: Page, name: str, password: str) -> None:
    sign_in(page, name, password)
    expect(chat_input(page)).to_be_visible()


def send(page: Page, text: str) -> None:
    box = chat_input(page)
    box.click()
    box.fill(text)
    box.press("Enter")


def test_refused_without_the_password_granted_with_it(team_app: AppServer, open_app) -> None:
    page = open_app(team_app, chat=False)  # the sign-in gate: no chat yet
    expect(page.get_by_role("heading", name=en("access.title"))).to_be_visible()
    expect(chat_input(page)).to_have_count(0)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    sign_in(page, "carol", "lantern-harbor")
    expect(page.get_by_text("Wrong name or password")).to_be_visible()
    expect(chat_input(page)).to_have_count(0)
    expect(page.get_by_role("textbox", name=en("access.password"), exact=True)).to_have_value("")
    page.wait_for_timeout(1100)  # the 1 s the page asked for (the growing wait: tests/test_access_gate.py)
    sign_in_ok(page, "carol", TEAM)
    expect(chat_input(page)).to_be_visible()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("Signed in as carol")
    send(page, "hello from carol")
    expect(messages(page).last).to_contain_text("Echo: hello from carol")
    sidebar.get_by_role("button", name=en("access.sign_out")).click()
    expect(page.get_by_role("heading", name=en("access.title"))).to_be_visible()
    expect(page.get_by_text(en("access.signed_out"))).to_be_visible()
    expect(chat_input(page)).to_have_count(0)
    page.reload()
    page.wait_for_selector(APP_READY)
    expect(page.get_by_role("heading", name=en("access.title"))).to_be_visible()
    expect(chat_input(page)).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("hello from carol")
    log = team_app.log()
    assert "access: wrong password for an unknown name" in log  # what happened, without the password
    assert "lantern-harbor" not in log and "hello from carol" not in log


def test_two_people_at_once_see_only_their_own_conversations(team_app: AppServer, open_app) -> None:
    alice, bob = open_app(team_app, chat=False), open_app(team_app, chat=False)
    sign_in_ok(alice, "alice", ALICE)
    sign_in_ok(bob, "bob", TEAM)
    send(alice, "alice: the Q3 pricing plan")
    send(bob, "bob: lunch menu")
    expect(messages(alice).last).to_contain_text("Echo: alice: the Q3 pricing plan")
    expect(messages(bob).last).to_contain_text("Echo: bob: lunch menu")
    expect(messages(alice)).to_have_count(2)
    expect(messages(bob)).to_have_count(2)
    expect(alice.locator("body")).not_to_contain_text("lunch menu")
    expect(bob.locator("body")).not_to_contain_text("Q3 pricing")
    # Alice's key typed in her tab stays in her tab.
    alice_sidebar = alice.get_by_test_id("stSidebar")
    key_box = alice_sidebar.get_by_role("textbox", name=en("picker.key_input_other"))
    key_box.fill("sk-alice-own-key-7777")
    key_box.press("Enter")
    expect(alice_sidebar).to_contain_text("…7777")
    expect(bob.get_by_test_id("stSidebar")).not_to_contain_text("…7777")
    # Bob opens Alice's conversation link: not found, nothing of it shown, not even in the list.
    cid = alice.url.split("c=")[1].split("&")[0]
    bob.goto(f"{team_app.url}/?c={cid}")
    bob.wait_for_selector(APP_READY)
    sign_in_ok(bob, "bob", TEAM)
    expect(bob.get_by_text(en("access.conversation_not_found"))).to_be_visible()
    expect(messages(bob)).to_have_count(0)
    bob.get_by_test_id("stSidebar").get_by_text(en("saved.title")).click()
    expect(bob.locator("body")).not_to_contain_text("Q3 pricing")
    # Nothing secret or typed reached the server's log.
    log = team_app.log()
    for secret in (TEAM, ALICE, SERVER_KEY, "sk-alice-own-key-7777", "Q3 pricing", "lunch menu"):
        assert secret not in log, secret

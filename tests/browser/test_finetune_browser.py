"""The fine-tune page in a real browser: import a file, see the problem, fix it, download the export.

Headless Debian chromium drives `streamlit run app.py` (PLAYGROUND_TEST_PORT, e.g. 7043); a
screenshot of the check table goes to test-artifacts/finetune-check.png.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from core.i18n import t
from tests.browser.conftest import APP_READY, CHROMIUM, AppServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} missing: install Debian chromium (apt-get install -y chromium)"),
]


def en(key: str, **values: Any) -> str:
    return t(key, "en", **values)


def conv(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in pairs]}


def ready(page: Page) -> None:
    page.wait_for_selector(APP_READY, timeout=30_000)


def open_section(page: Page, section: str) -> None:
    page.get_by_test_id("stButtonGroup").get_by_text(en(f"finetune.section.{section}"), exact=True).click()
    ready(page)


def test_import_check_fix_and_download(open_app: Any, app_server: AppServer, tmp_path: Path,
                                       shot: Any) -> None:
    records = [conv(("user", "营业时间？"), ("assistant", "每天九点到六点。")),
               conv(("user", "能开发票吗？"))]
    source = tmp_path / "客服.jsonl"
    source.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n{oops\n",
                      encoding="utf-8")
    page = open_app(app_server)
    page.goto(f"{app_server.url}/finetune")
    ready(page)
    expect(page.get_by_text(en("finetune.dataset.none"))).to_be_visible()

    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(source))
    expect(page.get_by_text(en("finetune.import.left_out", count=1))).to_be_visible()
    page.get_by_role("button", name=en("finetune.import.button", count=2)).click()
    expect(page.get_by_text(en("finetune.import.done", count=2, name="客服", left_out=1))).to_be_visible()

    open_section(page, "check")
    expect(page.get_by_test_id("stMetricValue").nth(2)).to_have_text("1")  # with errors
    shot(page, "finetune-check", full_page=True)
    page.get_by_role("button", name=en("finetune.check.open")).click()
    ready(page)
    page.get_by_role("button", name=en("finetune.editor.add_message", role=en("role.assistant"))).click()
    ready(page)
    answer = page.get_by_placeholder(en("finetune.editor.placeholder_assistant"))
    answer.fill("可以，请提供抬头。")
    answer.press("Tab")  # the text area sends its value when it loses focus
    ready(page)
    expect(page.get_by_text(en("finetune.editor.valid"))).to_be_visible()

    open_section(page, "export")
    with page.expect_download() as caught:
        page.get_by_role("button", name=en("finetune.export.download_train", count=1)).click()
    train = Path(caught.value.path()).read_text(encoding="utf-8")
    with page.expect_download() as caught:
        page.get_by_role("button", name=en("finetune.export.download_validation", count=1)).click()
    validation = Path(caught.value.path()).read_text(encoding="utf-8")
    exported = sorted((json.loads(line) for line in (train + validation).splitlines()), key=json.dumps)
    fixed = conv(("user", "能开发票吗？"), ("assistant", "可以，请提供抬头。"))
    assert sorted([records[0], fixed], key=json.dumps) == exported
    assert "营业时间" in train + validation  # Chinese as itself, not \u escapes

"""AppTest of the Retrieval page with signed-in users: a private knowledge base is not in a teammate's
picker, a shared one is, marked "Shared by <owner>", with no control that would change it."""

from __future__ import annotations

import json
from typing import Any

from streamlit.testing.v1 import AppTest

from components.retrieval_access import SHARE_KEY
from core.i18n import t
from core.retrieval import kb_access
from core.retrieval.knowledge_base import KnowledgeBase, KnowledgeBaseStore
from tests.apptest_helpers import APP, assert_ok, en, rendered_text
from tests.test_access_gate import ALICE, TEAM, make, serves_app, sign_in
from tests.test_access_isolation import SECRETS, data_dir, signed_in
from tests.test_retrieval_kb import HANDBOOK, doc
from tests.test_retrieval_page import PAGE, click, question_key, run, show_tab, texts

PICKER = "widget.retrieval.kb"
CHANGING_BUTTONS = {"retrieval.kb.rename", "retrieval.kb.delete", "retrieval.docs.add",
                    "retrieval.docs.remove", "retrieval.docs.rebuild", "retrieval.dense.compute"}


def retrieval_page(name: str, password: str | None = None, kb: str | None = None) -> AppTest:
    at = signed_in(name, *([password] if password else []), query={"kb": kb} if kb else None)
    at.switch_page(PAGE).run()
    assert_ok(at)
    return at


def alices() -> tuple[KnowledgeBase, KnowledgeBase]:
    """alice's private knowledge base and the one she shares with the team (with a document)."""
    store = KnowledgeBaseStore(data_dir(), "alice")
    private = store.create("alice private")
    private.add_documents([doc("plan.txt", "alice's secret plan: launch in May.")])
    shared = store.create("team handbook", chunk_size=80, overlap=10)
    shared.add_documents([doc("员工手册.txt", HANDBOOK)])
    store.set_shared(shared.id, True)
    return private, shared


def button_keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def test_a_teammate_sees_a_shared_one_read_only_and_never_a_private_one(zhipu_env: Any) -> None:
    private, shared = alices()
    bob = retrieval_page("bob", kb=private.id)  # alice's private link: not opened, not named
    assert en("retrieval.access.not_found") in [w.value for w in bob.warning]
    assert bob.selectbox(key=PICKER).options == [en("retrieval.access.option_other", name="team handbook",
                                                    owner="alice")]
    assert bob.session_state["retrieval.kb_id"] == shared.id and bob.query_params["kb"] == shared.id
    page = rendered_text(bob)
    assert "alice private" not in page and "secret plan" not in page
    assert en("retrieval.access.shared_by", owner="alice") in [c.value for c in bob.caption]
    assert en("retrieval.access.owner_only", owner="alice") in [c.value for c in bob.caption]
    assert en("retrieval.access.read_only", owner="alice") in [i.value for i in bob.info]
    assert all(t.key != SHARE_KEY for t in bob.toggle)
    assert not button_keys(bob) & CHANGING_BUTTONS and not bob.get("file_uploader")
    chunking = [bob.number_input(key=f"retrieval.{name}.{shared.id}") for name in ("chunk_size", "overlap")]
    assert all(n.disabled for n in chunking) and [n.value for n in chunking] == [80, 10]
    assert bob.selectbox(key=f"retrieval.embed_choice.{shared.id}").disabled
    assert en("retrieval.access.no_vectors", owner="alice") not in [c.value for c in bob.caption]  # BM25 only
    assert "员工手册.txt" in bob.dataframe[0].value.to_string()  # the documents can be read

    kb_json = (shared.dir / "kb.json").read_bytes()
    show_tab(bob, "ask")
    assert en("retrieval.access.own_copy", owner="alice") in [c.value for c in bob.caption]
    bob.text_area(key=question_key(bob)).set_value("年假有几天？")
    click(bob, "retrieval.ask.search")
    assert zhipu_env.requests == []
    assert "[1] 员工手册.txt" in " ".join(texts(bob.caption))
    assert (shared.dir / "kb.json").read_bytes() == kb_json, "a teammate's question never changes kb.json"
    assert not (shared.dir / "last_local.json").exists()
    bob_kb = KnowledgeBaseStore(data_dir(), "bob").get(shared.id)
    own = json.loads((kb_access.work_dir(bob_kb) / "ask.json").read_text("utf-8"))
    assert own["question"] == "年假有几天？"

    show_tab(bob, "cloud")
    assert en("retrieval.access.cloud_read_only", owner="alice") in [i.value for i in bob.info]
    assert all(b.key != "retrieval.cloud.upload" for b in bob.button)
    show_tab(bob, "evaluate")
    assert en("retrieval.access.own_copy", owner="alice") in [c.value for c in bob.caption]


def test_whose_it_is_is_said_in_chinese_too(zhipu_env: Any) -> None:
    _, shared = alices()
    bob = sign_in(run(make(SECRETS, locale="zh-CN")), "bob", TEAM)
    assert serves_app(bob)
    bob.switch_page(PAGE).run()
    assert_ok(bob)
    assert bob.selectbox(key=PICKER).options == ["team handbook（alice 共享）"]
    assert t("retrieval.access.shared_by", "zh", owner="alice") in [c.value for c in bob.caption]
    assert "只有 alice 可以" in t("retrieval.access.read_only", "zh", owner="alice")
    assert t("retrieval.access.read_only", "zh", owner="alice") in [i.value for i in bob.info]
    assert bob.session_state["retrieval.kb_id"] == shared.id


def test_the_owner_shares_with_the_switch_and_the_teammate_then_sees_it(zhipu_env: Any) -> None:
    private, _ = alices()
    alice = retrieval_page("alice", ALICE, kb=private.id)
    assert alice.session_state["retrieval.kb_id"] == private.id
    assert {"retrieval.kb.rename", "retrieval.kb.delete", "retrieval.docs.add"} <= button_keys(alice)
    assert en("retrieval.access.private") in [c.value for c in alice.caption]
    switch = alice.toggle(key=SHARE_KEY)
    assert switch.value is False and switch.label == en("retrieval.access.shared")
    switch.set_value(True)
    run(alice)
    assert KnowledgeBaseStore(data_dir()).get(private.id).ownership() == ("alice", True)
    assert alice.toggle(key=SHARE_KEY).value is True
    bob = retrieval_page("bob")
    labels = bob.selectbox(key=PICKER).options
    assert en("retrieval.access.option_other", name="alice private", owner="alice") in labels


def test_a_knowledge_base_unshared_while_open_falls_back(zhipu_env: Any) -> None:
    _, shared = alices()
    bob = retrieval_page("bob", kb=shared.id)
    assert bob.session_state["retrieval.kb_id"] == shared.id
    KnowledgeBaseStore(data_dir(), "alice").set_shared(shared.id, False)  # alice, in her own session
    run(bob)
    assert en("retrieval.access.not_found") in [w.value for w in bob.warning]
    assert bob.session_state["retrieval.kb_id"] is None and "kb" not in bob.query_params
    assert en("retrieval.kb.none_yet") in [i.value for i in bob.info]
    assert "team handbook" not in rendered_text(bob)
    run(bob)  # said once, not on every run
    assert en("retrieval.access.not_found") not in [w.value for w in bob.warning]


def test_a_knowledge_base_made_when_signed_in_is_its_makers(zhipu_env: Any) -> None:
    bob = retrieval_page("bob")
    bob.text_input(key="retrieval.kb.new_name").set_value("bob notes")
    click(bob, "retrieval.kb.create")
    kb_id = bob.session_state["retrieval.kb_id"]
    assert KnowledgeBaseStore(data_dir()).get(kb_id).ownership() == ("bob", False)
    assert bob.selectbox(key=PICKER).options == ["bob notes"]
    assert bob.toggle(key=SHARE_KEY).value is False
    carol = retrieval_page("carol", kb=kb_id)
    assert "bob notes" not in rendered_text(carol)
    assert en("retrieval.access.not_found") in [w.value for w in carol.warning]


def test_without_sign_in_nothing_is_marked_or_hidden(zhipu_env: Any) -> None:
    private, _ = alices()
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.context["locale"] = "en-US"
    at.query_params["kb"] = private.id
    run(at)
    at.switch_page(PAGE).run()
    assert_ok(at)
    assert set(at.selectbox(key=PICKER).options) == {"alice private", "team handbook"}
    assert all(t.key != SHARE_KEY for t in at.toggle)
    assert "retrieval.kb.delete" in button_keys(at) and not at.warning

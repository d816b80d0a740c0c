"""Knowledge bases in a team deployment: an owner, a "shared with the team" switch, read-only use of a
teammate's shared one, and the knowledge bases made before sign-in (no owner: the whole team's)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from core.errors import PlaygroundError
from core.i18n import t
from core.retrieval import kb_access
from core.retrieval.ask import plan_ask
from core.retrieval.history import load_result, save_result
from core.retrieval.knowledge_base import KnowledgeBaseStore
from core.retrieval.template import TEMPLATE_EN
from tests.test_retrieval_kb import HANDBOOK, POLICY, MemorySink, doc, embedding


def stores(root: Path) -> dict[str, KnowledgeBaseStore]:
    return {"alice": KnowledgeBaseStore(root, "alice"), "bob": KnowledgeBaseStore(root, "bob"),
            "carol": KnowledgeBaseStore(root, "carol"), "open": KnowledgeBaseStore(root)}


def files_of(folder: Path) -> dict[str, str]:
    """Every file under `folder` with a hash of its bytes: what "nothing changed on disk" compares."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def names(store: KnowledgeBaseStore) -> set[str]:
    return {kb.name for kb in store.list()}


@pytest.fixture
def team(tmp_path: Path) -> dict[str, Any]:
    """alice's private and shared knowledge bases, bob's own, and one from before sign-in."""
    s = stores(tmp_path)
    private = s["alice"].create("alice private")
    private.add_documents([doc("plan.txt", "alice's secret plan: launch in May.")])
    shared = s["alice"].create("team handbook", chunk_size=80, overlap=10)
    shared.add_documents([doc("员工手册.txt", HANDBOOK), doc("policy.md", POLICY)])
    s["alice"].set_shared(shared.id, True)
    bobs = s["bob"].create("bob notes")
    legacy = s["open"].create("from before sign-in")
    legacy.add_documents([doc("faq.md", "Refunds take 7 days.")])
    return {"stores": s, "private": private, "shared": shared, "bobs": bobs, "legacy": legacy,
            "root": tmp_path}


def test_each_viewer_lists_only_what_they_may_see(team: dict[str, Any]) -> None:
    s = team["stores"]
    assert names(s["alice"]) == {"alice private", "team handbook", "from before sign-in"}
    assert names(s["bob"]) == {"team handbook", "bob notes", "from before sign-in"}
    assert names(s["carol"]) == {"team handbook", "from before sign-in"}
    assert names(s["open"]) == {"alice private", "team handbook", "bob notes", "from before sign-in"}
    manage = {kb.name: kb.can_manage for kb in s["bob"].list()}
    assert manage == {"team handbook": False, "bob notes": True, "from before sign-in": True}
    assert all(kb.can_manage for kb in s["open"].list())  # without sign-in: everything, as before


def test_get_hides_what_a_viewer_may_not_see(team: dict[str, Any]) -> None:
    s, private = team["stores"], team["private"]
    assert s["bob"].get(private.id) is None and s["carol"].get(private.id) is None
    assert s["alice"].get(private.id).name == "alice private"
    assert s["open"].get(private.id).name == "alice private"
    assert s["bob"].get(team["bobs"].id).can_manage and s["alice"].get(team["bobs"].id) is None
    shared = s["bob"].get(team["shared"].id)
    assert (shared.name, shared.can_manage, shared.ownership()) == ("team handbook", False, ("alice", True))


def test_owner_and_shared_are_recorded_in_kb_json(team: dict[str, Any]) -> None:
    meta = team["private"].meta()
    assert (meta["owner"], meta["shared"]) == ("alice", False)
    assert team["shared"].meta()["shared"] is True
    legacy = team["legacy"].meta()
    assert "owner" not in legacy and "shared" not in legacy  # no sign-in: kb.json as before owners


def test_a_teammate_may_not_change_a_shared_knowledge_base(team: dict[str, Any]) -> None:
    s, shared = team["stores"], team["shared"]
    bob_kb = s["bob"].get(shared.id)
    sink = MemorySink()
    sink.upsert(shared.id, "test:len", ["x"], [[1.0, 1.0]])
    doc_id = bob_kb.snapshot().documents[0].id
    before = files_of(shared.dir)
    actions: list[Callable[[], Any]] = [
        lambda: s["bob"].rename(shared.id, "mine now"),
        lambda: s["bob"].delete(shared.id, sink=sink),
        lambda: s["bob"].set_shared(shared.id, False),
        lambda: bob_kb.add_documents([doc("bob.txt", "bob's text")]),
        lambda: bob_kb.remove_document(doc_id),
        lambda: bob_kb.rebuild(),
        lambda: bob_kb.set_chunk_settings(200, 20),
        lambda: bob_kb.embed_all(embedding(sink)),
        lambda: bob_kb.update_meta(embedding={"provider": "zhipu", "model": "embedding-3"}),
    ]
    for action in actions:
        with pytest.raises(PlaygroundError) as caught:
            action()
        assert caught.value.params == {"key": "retrieval.access.not_owner", "owner": "alice"}
    assert files_of(shared.dir) == before, "a refused change leaves the knowledge base as it was"
    assert sink.points[(shared.id, "test:len")] == {"x": [1.0, 1.0]}, "its vectors too"
    assert s["alice"].get(shared.id).ownership() == ("alice", True)
    message = {lang: t("retrieval.access.not_owner", lang, owner="alice") for lang in ("en", "zh")}
    assert all("alice" in text for text in message.values())
    assert "owner" in message["en"] and "所有者" in message["zh"]


def test_another_users_private_one_is_simply_not_found(team: dict[str, Any]) -> None:
    s, private = team["stores"], team["private"]
    before = files_of(private.dir)
    for action in (lambda: s["bob"].rename(private.id, "x"), lambda: s["bob"].delete(private.id),
                   lambda: s["bob"].set_shared(private.id, True)):
        with pytest.raises(PlaygroundError) as caught:
            action()
        assert caught.value.params == {"key": "retrieval.error.no_kb"}  # neither its name nor its owner
    assert files_of(private.dir) == before


def test_a_teammate_searches_a_shared_one(team: dict[str, Any]) -> None:
    bob_kb = team["stores"]["bob"].get(team["shared"].id)
    snap = bob_kb.snapshot()
    assert {d.name for d in snap.documents} == {"员工手册.txt", "policy.md"}
    plan = plan_ask(snap, "年假几天", TEMPLATE_EN, "bm25", 3)
    assert plan.hits and plan.hits[0].chunk.doc_name == "员工手册.txt"
    assert "年假" in plan.messages[-1]["content"]
    chunk = plan.hits[0].chunk
    assert bob_kb.source_text(chunk.doc_id)[chunk.start:chunk.end] == chunk.text


def test_a_teammates_ask_settings_and_answers_stay_theirs(team: dict[str, Any]) -> None:
    s, shared = team["stores"], team["shared"]
    alice_kb, bob_kb = s["alice"].get(shared.id), s["bob"].get(shared.id)
    kb_access.save_ask(alice_kb, {"template": "A {{knowledge}} {{question}}", "top_k": 3,
                                  "question": "alice's own question"})
    start = kb_access.load_ask(bob_kb)
    assert start == {"template": "A {{knowledge}} {{question}}", "top_k": 3}  # never alice's question
    kb_json = (shared.dir / "kb.json").read_bytes()
    kb_access.save_ask(bob_kb, start | {"question": "bob asks", "top_k": 7})
    assert (shared.dir / "kb.json").read_bytes() == kb_json
    assert kb_access.load_ask(bob_kb)["question"] == "bob asks"
    assert kb_access.load_ask(alice_kb)["question"] == "alice's own question"
    own = kb_access.work_dir(bob_kb)
    assert own.parent == shared.dir / kb_access.VIEWERS_DIR and "bob" not in own.name
    assert kb_access.work_dir(alice_kb) == shared.dir
    assert save_result(kb_access.work_dir(bob_kb), "local", {"question": "bob asks"})
    assert load_result(kb_access.work_dir(alice_kb), "local") is None  # alice never sees bob's question
    assert load_result(kb_access.work_dir(s["bob"].get(shared.id)), "local") == {"question": "bob asks"}


def test_an_evaluation_set_starts_from_the_owners(team: dict[str, Any]) -> None:
    s, shared = team["stores"], team["shared"]
    (shared.dir / "questions.json").write_text("[]", encoding="utf-8")
    bob_kb = s["bob"].get(shared.id)
    assert kb_access.work_file(bob_kb, "questions.json", fallback=True) == shared.dir / "questions.json"
    (kb_access.work_dir(bob_kb)).mkdir(parents=True)
    (kb_access.work_dir(bob_kb) / "questions.json").write_text("[]", encoding="utf-8")
    assert kb_access.work_file(bob_kb, "questions.json", fallback=True).parent == kb_access.work_dir(bob_kb)


def test_unsharing_hides_it_again(team: dict[str, Any]) -> None:
    s, shared = team["stores"], team["shared"]
    s["alice"].set_shared(shared.id, False)
    assert s["bob"].get(shared.id) is None and "team handbook" not in names(s["bob"])
    assert s["alice"].get(shared.id).ownership() == ("alice", False)


def test_the_owner_and_a_store_without_sign_in_manage_it(team: dict[str, Any]) -> None:
    s, shared = team["stores"], team["shared"]
    s["alice"].rename(shared.id, "handbook 2")
    alice_kb = s["alice"].get(shared.id)
    alice_kb.set_chunk_settings(120, 20)
    alice_kb.rebuild()
    alice_kb.remove_document(alice_kb.snapshot().documents[0].id)
    assert len(alice_kb.snapshot().documents) == 1
    s["open"].rename(shared.id, "handbook 3")  # the app without sign-in: everyone manages everything
    assert s["alice"].get(shared.id).ownership() == ("alice", True)
    s["open"].delete(team["private"].id)
    assert s["alice"].get(team["private"].id) is None


def test_knowledge_bases_from_before_sign_in_are_the_teams(team: dict[str, Any]) -> None:
    s, root = team["stores"], team["root"]
    # A folder as an older version wrote it: kb.json without owner or shared.
    old = root / "knowledge_bases" / "0123456789abcdef"
    old.mkdir()
    (old / "kb.json").write_text(json.dumps({"id": old.name, "name": "old one", "created": "2024-01-01",
                                             "chunk_size": 300, "overlap": 30}), encoding="utf-8")
    for viewer in ("alice", "bob", "carol", "open"):
        kb = s[viewer].get(old.name)
        assert kb is not None and kb.can_manage and kb.ownership() == ("", False)
        assert "old one" in names(s[viewer])
    bob_old = s["bob"].get(old.name)
    bob_old.add_documents([doc("bob.txt", "bob adds to the team's one")])
    s["carol"].rename(old.name, "old one renamed")
    assert [d.name for d in s["alice"].get(old.name).snapshot().documents] == ["bob.txt"]
    legacy = s["bob"].get(team["legacy"].id)
    assert legacy.can_manage and legacy.ownership() == ("", False)


def test_names_are_unique_among_what_a_viewer_sees(team: dict[str, Any]) -> None:
    s = team["stores"]
    mine = s["bob"].create("alice private")  # bob cannot see alice's: the name is free for him
    assert s["bob"].get(mine.id).ownership() == ("bob", False)
    with pytest.raises(PlaygroundError) as caught:
        s["bob"].create("Team Handbook")  # a shared one he sees
    assert caught.value.params["key"] == "retrieval.error.name_taken"


def test_a_tampered_owner_is_not_a_way_in(team: dict[str, Any]) -> None:
    private = team["private"]
    meta = json.loads((private.dir / "kb.json").read_text(encoding="utf-8"))
    (private.dir / "kb.json").write_text(json.dumps(meta | {"shared": "yes"}), encoding="utf-8")
    assert team["stores"]["bob"].get(private.id) is None  # only a real true shares it

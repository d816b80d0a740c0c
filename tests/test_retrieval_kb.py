"""Knowledge bases on disk: Chinese names, documents, rebuild, restart, and atomic updates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import PlaygroundError
from core.retrieval import kb_index
from core.retrieval.bm25 import BM25Index
from core.retrieval.knowledge_base import Embedding, KnowledgeBaseStore
from core.retrieval.loaders import load_document

HANDBOOK = ("员工手册\n\n公司员工每年享有带薪年假。工作满1年不满10年的，年假5天；满10年的，年假10天。\n\n"
            "病假需要提供医院证明。事假需要提前三天申请。\n\n差旅报销需要提交发票和审批单。") * 3
POLICY = "Travel policy.\n\nHotels are capped at 150 USD per night. Book economy flights in the portal."


def doc(name: str, text: str):  # type: ignore[no-untyped-def]
    return load_document(name, text.encode())


class MemorySink:
    """Vectors kept in a dict: stands in for Qdrant where only the bookkeeping is under test."""

    def __init__(self) -> None:
        self.points: dict[tuple[str, str], dict[str, list[float]]] = {}

    def upsert(self, kb_id: str, model_key: str, ids: list[str], vectors: list[list[float]]) -> None:
        self.points.setdefault((kb_id, model_key), {}).update(zip(ids, vectors, strict=True))

    def delete(self, kb_id: str, model_key: str, ids: list[str]) -> None:
        for chunk_id in ids:
            self.points.get((kb_id, model_key), {}).pop(chunk_id, None)

    def drop_kb(self, kb_id: str) -> None:
        for key in [k for k in self.points if k[0] == kb_id]:
            del self.points[key]


def embedding(sink: MemorySink, fail_after: int | None = None) -> Embedding:
    calls = {"n": 0}

    def embed(texts: list[str]) -> list[list[float]]:
        calls["n"] += 1
        if fail_after is not None and calls["n"] > fail_after:
            raise PlaygroundError("rate_limit", code="1302")
        return [[float(len(t)), 1.0] for t in texts]

    return Embedding(model_key="test:len", embed=embed, sink=sink, batch_size=2)


def restart() -> None:
    """What a server restart does to the process caches."""
    kb_index._cache.clear()


@pytest.fixture
def store(tmp_path: Path) -> KnowledgeBaseStore:
    return KnowledgeBaseStore(tmp_path)


def test_create_list_rename_delete_with_chinese_names(store: KnowledgeBaseStore, tmp_path: Path) -> None:
    a = store.create("产品手册 2024")
    b = store.create("售后 FAQ / 退款")
    assert [kb.name for kb in store.list()] == ["产品手册 2024", "售后 FAQ / 退款"]
    assert (tmp_path / "knowledge_bases" / a.id / "kb.json").is_file()
    assert all(ch in "0123456789abcdef" for ch in a.id), "folders are named by id, never by name"
    store.rename(b.id, "售后问答")
    assert store.get(b.id).name == "售后问答"
    store.delete(a.id)
    assert [kb.name for kb in store.list()] == ["售后问答"]
    assert not (tmp_path / "knowledge_bases" / a.id).exists()


@pytest.mark.parametrize(("name", "key"), [("", "name_empty"), ("   ", "name_empty"), ("x" * 61, "name_long"),
                                           ("产品手册", "name_taken"), (" 产品手册 ", "name_taken"),
                                           ("Sales FAQ", "name_taken")])
def test_bad_names(store: KnowledgeBaseStore, name: str, key: str) -> None:
    store.create("产品手册")
    store.create("sales faq")
    with pytest.raises(PlaygroundError) as caught:
        store.create(name)
    assert caught.value.params["key"] == f"retrieval.error.{key}"


def test_a_line_break_in_a_name_becomes_a_space(store: KnowledgeBaseStore) -> None:
    assert store.create("售后\n问答").name == "售后 问答"


def test_unknown_or_malformed_ids(store: KnowledgeBaseStore) -> None:
    assert store.get("../../etc") is None and store.get(None) is None and store.get("0" * 16) is None
    with pytest.raises(PlaygroundError) as caught:
        store.rename("0" * 16, "x")
    assert caught.value.params["key"] == "retrieval.error.no_kb"


def test_documents_table_and_search(store: KnowledgeBaseStore) -> None:
    kb = store.create("手册", chunk_size=80, overlap=10)
    added = kb.add_documents([doc("员工手册.txt", HANDBOOK), doc("policy.md", POLICY)])
    assert [a.info.name for a in added] == ["员工手册.txt", "policy.md"]
    assert not any(a.replaced for a in added)
    snap = kb.snapshot()
    table = {d.name: d for d in snap.documents}
    in_index = sum(1 for c in snap.chunks.values() if c.doc_name == "员工手册.txt")
    assert table["员工手册.txt"].chunks == in_index
    assert table["员工手册.txt"].chunks > 3 and table["policy.md"].chunks >= 1
    assert table["员工手册.txt"].chunk_size == 80 and table["员工手册.txt"].overlap == 10
    best = snap.bm25.search("年假几天", 1)[0][0]
    assert snap.chunks[best].doc_name == "员工手册.txt" and "年假" in snap.chunks[best].text
    chunk = snap.chunks[best]
    assert kb.source_text(chunk.doc_id)[chunk.start:chunk.end] == chunk.text


def test_same_name_replaces_the_document(store: KnowledgeBaseStore) -> None:
    kb = store.create("kb")
    kb.add_documents([doc("a.txt", "旧版本：年假五天。")])
    old_id = kb.snapshot().documents[0].id
    result = kb.add_documents([doc("a.txt", "新版本：年假七天。")])
    assert result[0].replaced
    snap = kb.snapshot()
    assert [d.name for d in snap.documents] == ["a.txt"]
    assert all("新版本" in c.text for c in snap.chunks.values())
    assert kb.source_text(old_id) is None


def test_remove_a_document(store: KnowledgeBaseStore) -> None:
    kb = store.create("kb")
    kb.add_documents([doc("a.txt", HANDBOOK), doc("b.txt", POLICY)])
    a = next(d for d in kb.snapshot().documents if d.name == "a.txt")
    kb.remove_document(a.id)
    snap = kb.snapshot()
    assert [d.name for d in snap.documents] == ["b.txt"]
    assert all(c.doc_name == "b.txt" for c in snap.chunks.values())
    assert snap.bm25.search("年假", 3) == []
    with pytest.raises(PlaygroundError):
        kb.remove_document(a.id)


def test_rebuild_with_new_settings_reports_progress(store: KnowledgeBaseStore) -> None:
    kb = store.create("kb", chunk_size=500, overlap=50)
    kb.add_documents([doc("a.txt", HANDBOOK), doc("b.txt", POLICY)])
    before = len(kb.snapshot().chunks)
    kb.set_chunk_settings(60, 0)
    assert {d.name for d in kb.stale_documents()} == {"a.txt", "b.txt"}
    steps: list[tuple[str, int, int]] = []
    snap = kb.rebuild(progress=lambda *step: steps.append(step))
    assert len(snap.chunks) > before
    assert all(len(c.text) <= 60 for c in snap.chunks.values())
    assert kb.stale_documents() == []
    assert ("index", 0, 2) in steps and ("index", 2, 2) in steps and steps[-1] == ("save", 1, 1)


def test_everything_survives_a_restart(store: KnowledgeBaseStore, tmp_path: Path) -> None:
    kb = store.create("持久化")
    kb.add_documents([doc("a.txt", HANDBOOK)])
    before = kb.snapshot()
    restart()
    again = KnowledgeBaseStore(tmp_path).get(kb.id)
    assert again is not None and again.name == "持久化"
    snap = again.snapshot()
    assert snap is not before
    assert [d.name for d in snap.documents] == ["a.txt"] and snap.chunks.keys() == before.chunks.keys()
    assert snap.bm25.search("病假证明", 2) == before.bm25.search("病假证明", 2)


def test_a_failed_save_leaves_the_index_as_it_was(store: KnowledgeBaseStore,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    kb = store.create("kb")
    kb.add_documents([doc("a.txt", HANDBOOK)])
    generation = kb_index.current_generation(kb.dir)
    sources = sorted(p.name for p in (kb.dir / "sources").iterdir())

    def disk_full(self: BM25Index, path: Path) -> None:
        path.write_bytes(b"PK\x03\x04 half an npz")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BM25Index, "save", disk_full)
    with pytest.raises(OSError):
        kb.add_documents([doc("b.txt", POLICY)])
    restart()
    assert kb_index.current_generation(kb.dir) == generation
    assert [d.name for d in kb.snapshot().documents] == ["a.txt"]
    assert sorted(p.name for p in (kb.dir / "sources").iterdir()) == sources
    assert not list((kb.dir / "index").glob(".*"))


def test_embedding_on_upload_and_its_failure(store: KnowledgeBaseStore) -> None:
    sink = MemorySink()
    kb = store.create("kb", chunk_size=60, overlap=0)
    kb.add_documents([doc("a.txt", HANDBOOK)], embedding=embedding(sink))
    snap = kb.snapshot()
    assert snap.embedded_with == "test:len"
    assert set(sink.points[(kb.id, "test:len")]) == set(snap.chunks)
    with pytest.raises(PlaygroundError):
        kb.add_documents([doc("b.txt", POLICY * 5)], embedding=embedding(sink, fail_after=1))
    restart()
    assert [d.name for d in kb.snapshot().documents] == ["a.txt"]
    assert kb.snapshot().embedded_with == "test:len"


def test_upload_without_the_embedding_marks_vectors_incomplete(store: KnowledgeBaseStore) -> None:
    sink = MemorySink()
    kb = store.create("kb")
    kb.add_documents([doc("a.txt", HANDBOOK)], embedding=embedding(sink))
    kb.add_documents([doc("b.txt", POLICY)])
    assert kb.snapshot().embedded_with is None
    kb.embed_all(embedding(sink))
    snap = kb.snapshot()
    assert snap.embedded_with == "test:len" and set(sink.points[(kb.id, "test:len")]) >= set(snap.chunks)


def test_delete_drops_the_vectors(store: KnowledgeBaseStore) -> None:
    sink = MemorySink()
    kb = store.create("kb")
    kb.add_documents([doc("a.txt", HANDBOOK)], embedding=embedding(sink))
    store.delete(kb.id, sink=sink)
    assert sink.points == {} and store.list() == []


def test_old_generations_are_cleaned(store: KnowledgeBaseStore) -> None:
    kb = store.create("kb")
    for n in range(4):
        kb.add_documents([doc(f"{n}.txt", f"第{n}份文档。")])
    kept = sorted(p.name for p in (kb.dir / "index").iterdir())
    assert len(kept) == 2 and kept[-1] == f"{kb_index.current_generation(kb.dir):06d}"
    assert json.loads((kb.dir / "current.json").read_text())["generation"] == 4

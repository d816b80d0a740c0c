"""The in-process model backend: a GLM model loaded into this server (GPU or CPU) with transformers.

Importing this module imports neither torch nor transformers: they come with the first load.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from backends.base import Backend, Connection, Endpoint, ModelInfo
from backends.local.cache import MODELS, LoadedModel, ModelCache, Progress
from backends.local.schema import local_schema
from backends.local.spec import LoadSpec, LocalConnection
from core.chat import ChatRequest, Notice, StreamMeta, direct_sink
from core.parameters import ParamSchema

LOCAL_ENDPOINT = Endpoint("local", "endpoint.local", "local", key_required=False, family="local")


@dataclass
class LocalBackend(Backend):
    id: str = "local"
    label_key: str = "backend.local"
    endpoints: tuple[Endpoint, ...] = field(default_factory=lambda: (LOCAL_ENDPOINT,))
    models: ModelCache = field(default_factory=lambda: MODELS)  # one per process, for every session

    def model_info(self, endpoint: Endpoint, model_id: str) -> ModelInfo:
        """The model as typed, with its context window once it is loaded."""
        loaded = self.models.for_model(model_id) if model_id.strip() else None
        return ModelInfo(id=model_id, context_window=loaded.context_window if loaded else None)

    def schema(self, endpoint: Endpoint, model: ModelInfo) -> ParamSchema:
        return local_schema(model.context_window)

    def load(self, spec: LoadSpec, progress: Progress | None = None) -> LoadedModel:
        """Load (once per process) or find the model; refusals are PlaygroundError."""
        return self.models.load(spec, progress)

    def loaded(self, spec: LoadSpec) -> LoadedModel | None:
        return self.models.get(spec)

    def unload(self, spec: LoadSpec | None = None) -> int:
        return self.models.unload(spec)

    def events(self, request: ChatRequest, endpoint: Endpoint, conn: Connection,
               cancel: threading.Event) -> Iterator[str | StreamMeta]:
        spec = conn.spec(request.model) if isinstance(conn, LocalConnection) else LoadSpec(request.model)
        loaded = self.models.get(spec)
        if loaded is None:  # nobody pressed Load yet: the first answer loads it, and says so
            yield StreamMeta(notice=Notice.of("local.notice.loading", model=request.model))
            loaded = self.models.load(spec)
            yield StreamMeta(notice=Notice(""))
        from backends.local.generation import answer  # torch is in memory by now

        if request.stream:  # a ChatStream takes the text straight from generate's thread
            yield from answer(loaded, request.messages, request.params, cancel, conn.timeout_s, direct_sink())
            return
        events = answer(loaded, request.messages, request.params, cancel, conn.timeout_s)
        parts: list[str] = []  # streaming off: the whole answer at once, as other backends give it
        for event in events:
            if isinstance(event, str):
                parts.append(event)
            else:
                yield event
        yield "".join(parts)

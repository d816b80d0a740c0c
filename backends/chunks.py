"""Turn chat-completion chunks (same shape in the openai and zhipuai SDKs) into stream events."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from core.chat import StreamMeta, Usage
from core.errors import ErrorKind, PlaygroundError


def chunk_events(chunk: Any) -> Iterator[str | StreamMeta]:
    """Events from one streamed chunk. The final OpenAI usage chunk has no choices at all."""
    choices = getattr(chunk, "choices", None) or []
    if choices:
        choice = choices[0]
        delta = getattr(choice, "delta", None)
        content = getattr(delta, "content", None) if delta is not None else None
        if content:
            yield content
    finish = getattr(choices[0], "finish_reason", None) if choices else None
    usage = Usage.from_obj(getattr(chunk, "usage", None))
    yield StreamMeta(usage=usage, finish_reason=finish, request_id=getattr(chunk, "id", None),
                     model=getattr(chunk, "model", None))


def completion_events(completion: Any) -> Iterator[str | StreamMeta]:
    """Events from a whole (non-streamed) completion: its text once, then its record."""
    choices = getattr(completion, "choices", None) or []
    choice = choices[0] if choices else None
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None) if message is not None else None
    if content:
        yield content
    yield StreamMeta(usage=Usage.from_obj(getattr(completion, "usage", None)),
                     finish_reason=getattr(choice, "finish_reason", None),
                     request_id=getattr(completion, "id", None),
                     model=getattr(completion, "model", None))


def relay(open_call: Callable[[], Any], stream: bool, cancel: threading.Event,
          translate: Callable[[BaseException, bool], PlaygroundError]) -> Iterator[str | StreamMeta]:
    """Make the SDK call and relay its events; SDK failures become PlaygroundError.

    `translate(exc, started)` knows whether text had arrived: a break after that is a cut stream.
    """
    started = False
    response: Any = None
    try:
        response = open_call()
        events: Iterable[str | StreamMeta]
        if stream:
            events = (event for chunk in response for event in chunk_events(chunk))
        else:
            events = completion_events(response)
        last_meta: StreamMeta | None = None
        for event in events:
            if cancel.is_set():
                return
            if isinstance(event, str):
                started = True
            elif event == last_meta:
                continue  # every chunk repeats the id and model: pass on only what is new
            else:
                last_meta = event
            yield event
    except PlaygroundError:
        raise
    except Exception as exc:
        raise translate(exc, started) from exc
    finally:
        _close(response)


def _close(response: Any) -> None:
    """Close a streamed HTTP response so a stopped answer stops costing tokens."""
    for target in (response, getattr(response, "response", None)):
        close = getattr(target, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                pass
            return


# Transport failures by class name, so httpx (zhipuai) and httpx2 (openai) need not be imported.
_UNREACHABLE = frozenset({"ConnectError", "ConnectTimeout", "ProxyError", "UnsupportedProtocol",
                          "InvalidURL", "gaierror", "ConnectionRefusedError"})
_TIMEOUT = frozenset({"TimeoutException", "TimeoutError"})
_BROKEN = frozenset({"RemoteProtocolError", "ReadError", "JSONDecodeError", "DecodingError",
                     "IncompleteRead", "ConnectionResetError"})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes, outermost first (SDKs wrap the httpx error they caught)."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen and len(seen) < 10:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def transport_kind(exc: BaseException, started: bool) -> ErrorKind | None:
    """The kind of a network or stream-decoding failure anywhere in the chain; None if not one."""
    for link in _chain(exc):
        names = {cls.__name__ for cls in type(link).__mro__}
        if names & _UNREACHABLE:
            return ErrorKind.STREAM_BROKEN if started else ErrorKind.UNREACHABLE
        if names & _TIMEOUT:
            return ErrorKind.TIMEOUT
        if names & _BROKEN:
            return ErrorKind.STREAM_BROKEN
    return None


def describe(exc: BaseException) -> str:
    """The SDK's message plus the root cause, e.g. 'Connection error. (ConnectError: refused)'."""
    links = list(_chain(exc))
    text = str(exc) or type(exc).__name__
    root = links[-1]
    if root is not exc and str(root) and str(root) not in text:
        text += f" ({type(root).__name__}: {root})"
    return text[:500]


def connection_error(exc: BaseException, started: bool, timed_out: bool) -> PlaygroundError:
    """An SDK connection / timeout error: reached or not, cut mid-answer, or too slow."""
    kind = transport_kind(exc, started)
    if kind is None:
        kind = ErrorKind.TIMEOUT if timed_out else (
            ErrorKind.STREAM_BROKEN if started else ErrorKind.UNREACHABLE)
    return PlaygroundError(kind, detail=describe(exc))


def generic_translate(exc: BaseException, started: bool) -> PlaygroundError:
    """Failures no SDK class explains: a raw httpx error, an undecodable stream, anything else."""
    kind = transport_kind(exc, started)
    if kind is None:
        kind = ErrorKind.STREAM_BROKEN if started else ErrorKind.UNKNOWN
    return PlaygroundError(kind, detail=f"{type(exc).__name__}: {describe(exc)}")

"""One generation at a time per loaded model: callers wait in arrival order and see their place."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from backends.local import LOCAL_ENDPOINT, LocalBackend, LocalConnection
from backends.local.cache import LoadedModel, ModelCache
from backends.local.turn_queue import TurnQueue
from core.chat import ChatStream, Notice
from tests.generate_watch import watch_generate
from tests.tiny_glm import tiny_glm_fixture  # noqa: F401 - the tiny_glm_dir fixture

MESSAGES = [{"role": "user", "content": "Tell me a story about a small model."}]
CONN = LocalConnection(base_url="local")


@pytest.fixture(scope="module")
def setup(tiny_glm_dir: Path) -> tuple[LocalBackend, LoadedModel]:
    backend = LocalBackend(models=ModelCache())
    return backend, backend.load(CONN.spec(str(tiny_glm_dir)))


def ask(backend: LocalBackend, folder: Path, max_new_tokens: int) -> ChatStream:
    values = {"do_sample": False, "max_new_tokens": max_new_tokens, "context_budget": 2048}
    request = backend.prepare(LOCAL_ENDPOINT, str(folder), MESSAGES, values)
    return backend.open_stream(request, LOCAL_ENDPOINT, CONN)


def wait_for(condition, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def statuses(stream: ChatStream, seen: list[Notice | None]) -> None:
    """Read the stream as the page does, noting each change of the waiting status from the first."""
    for _ in stream.events(poll_s=0.01):
        status = stream.record.status
        if (seen and seen[-1] != status) or (not seen and status is not None):
            seen.append(status)


def test_the_line_is_first_in_first_out() -> None:
    line = TurnQueue()
    a, b, c = line.join(), line.join(), line.join()
    assert line.try_start(b) == 1 and line.try_start(c) == 2  # only a may start
    assert line.try_start(a) == 0
    assert (line.try_start(b), line.try_start(c), line.length) == (1, 2, 3)
    line.leave(c)  # gave up waiting
    assert line.length == 2
    line.leave(a)
    assert line.try_start(b) == 0 and line.length == 1
    line.leave(b)
    assert line.length == 0
    with pytest.raises(ValueError):
        line.try_start(a)


def test_positions_end_when_the_turn_comes_or_on_cancel() -> None:
    line = TurnQueue()
    first, second = line.join(), line.join()
    assert line.try_start(first) == 0
    cancel = threading.Event()
    seen: list[int] = []
    waiter = threading.Thread(target=lambda: seen.extend(line.positions(second, cancel, poll_s=0.01)),
                              daemon=True)
    waiter.start()
    wait_for(lambda: seen == [1])
    line.leave(first)
    waiter.join(5)
    assert not waiter.is_alive() and line.try_start(second) == 0
    third = line.join()
    cancel.set()
    assert list(line.positions(third, cancel)) == []  # cancelled: gives up without the model
    line.leave(third)
    line.leave(second)
    assert line.length == 0


def test_a_second_session_waits_sees_its_place_then_runs(setup: tuple[LocalBackend, LoadedModel],
                                                         tiny_glm_dir: Path) -> None:
    backend, loaded = setup
    holder = loaded.line.join()  # another session's answer is running
    assert loaded.line.try_start(holder) == 0
    seen: dict[str, list[Notice | None]] = {"second": [], "third": []}
    streams: dict[str, ChatStream] = {}
    readers = []
    try:
        for name in ("second", "third"):  # the third asks once the second is already waiting
            streams[name] = ask(backend, tiny_glm_dir, 8)
            readers.append(threading.Thread(target=statuses, args=(streams[name], seen[name]), daemon=True))
            readers[-1].start()
            wait_for(lambda name=name: streams[name].record.status is not None)
        second, third = streams["second"], streams["third"]
        assert second.record.status == Notice.of("local.notice.waiting", ahead=1)
        assert third.record.status == Notice.of("local.notice.waiting", ahead=2)
        assert not second.text and not third.text  # nothing generated while the model is taken
    finally:
        loaded.line.leave(holder)
    for reader in readers:
        reader.join(10)
    rec2, rec3 = second.record, third.record
    assert rec2.outcome == rec3.outcome == "ok"
    assert rec2.text and rec3.text and rec2.status is None and rec3.status is None
    for name in ("second", "third"):  # what the page saw last: the waiting line went away
        assert not seen[name] or seen[name][-1] is None
    # First come, first served: the timestamps are taken where the tokens are made, not read.
    assert second._t0 + (rec2.ttft_s or 0) < third._t0 + (rec3.ttft_s or 0)
    assert loaded.line.length == 0


def test_two_concurrent_answers_are_serialised(setup: tuple[LocalBackend, LoadedModel], tiny_glm_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Two sessions ask at once: never two generate() calls at a time, the second is told it waits."""
    backend, loaded = setup
    watch = watch_generate(monkeypatch, loaded.model)
    a = ask(backend, tiny_glm_dir, 300)
    readers = [threading.Thread(target=a.collect, daemon=True)]
    readers[0].start()
    wait_for(lambda: bool(a.text))  # a holds the model
    b = ask(backend, tiny_glm_dir, 20)
    readers.append(threading.Thread(target=b.collect, daemon=True))
    readers[1].start()
    b_statuses = set()
    while not (a.done and b.done):
        b_statuses.add(b.record.status)
        time.sleep(0.002)
    assert a.record.outcome == b.record.outcome == "ok"
    assert a.text and b.text
    assert watch.calls == 2 and watch.most == 1  # one generation at a time
    assert Notice.of("local.notice.waiting", ahead=1) in b_statuses  # b was told it waits
    assert b._t0 + (b.record.ttft_s or 0) > a._t0 + (a.record.ttft_s or 0)
    assert loaded.line.length == 0


def test_a_waiting_caller_that_stops_leaves_the_line(setup: tuple[LocalBackend, LoadedModel],
                                                     tiny_glm_dir: Path) -> None:
    backend, loaded = setup
    holder = loaded.line.join()
    assert loaded.line.try_start(holder) == 0
    try:
        waiting = ask(backend, tiny_glm_dir, 8)
        wait_for(lambda: loaded.line.length == 2)
        assert waiting.stop().outcome == "stopped"
        assert waiting.join(5)
        wait_for(lambda: loaded.line.length == 1)  # only the holder is left
    finally:
        loaded.line.leave(holder)

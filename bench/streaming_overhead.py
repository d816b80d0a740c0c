"""Streaming overhead: one fixed-rate fake stream read by a plain SDK loop (a) and the backend layer (b)."""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.base import Connection
from backends.openai_compat import OpenAICompatBackend
from backends.zhipu import ZhipuBackend

ROOT = Path(__file__).resolve().parent.parent
MODEL = "fake-model"  # a custom model id: the widest max_tokens range on both backends


@dataclass
class Run:
    """One stream, timed from outside: the clock starts just before the call in (a) and (b)."""

    ttft_s: float = float("nan")
    total_s: float = float("nan")
    chunks: int = 0  # tokens received: content chunks (a), words of the answer's text (b)
    usage_tokens: int | None = None  # completion_tokens the server reported
    cpu_s: float = 0.0  # CPU time of this whole process, all threads
    switches: int = 0  # voluntary context switches of this process (thread and socket waits)
    t0: float = field(default=0.0, repr=False)

    def first(self) -> None:
        if self.ttft_s != self.ttft_s:  # still NaN
            self.ttft_s = time.perf_counter() - self.t0


@contextmanager
def measured() -> Iterator[Run]:
    run = Run()
    usage0, cpu0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
    run.t0 = time.perf_counter()
    yield run
    run.total_s = time.perf_counter() - run.t0
    run.cpu_s = time.process_time() - cpu0
    run.switches = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - usage0.ru_nvcsw


class FakeServer:
    """The fake LLM server, by default in its own process so that it does not share our GIL."""

    def __init__(self, token_delay: float, in_process: bool) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._inproc: Any = None
        if in_process:
            from tests.fake_llm import FakeLLMServer

            self._inproc = FakeLLMServer(token_delay=token_delay).start()
            self.url: str = self._inproc.url
            return
        cmd = [sys.executable, "-m", "tests.fake_llm", "--port", "0", "--token-delay", str(token_delay)]
        self._proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if "listening on " not in line:
            self.stop()
            raise RuntimeError(f"fake server did not start: {line!r}")
        self.url = line.strip().rsplit(" ", 1)[-1]

    def stop(self) -> None:
        if self._inproc is not None:
            self._inproc.stop()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)


def messages(tokens: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"[[tokens:{tokens}]]"}]


def sdk_client(sdk: str, base_url: str) -> Any:
    if sdk == "openai":
        import openai

        return openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)
    import zhipuai

    return zhipuai.ZhipuAI(base_url=base_url, api_key="x", max_retries=0)


def plain(sdk: str, base_url: str, tokens: int, shared: Any = None) -> Run:
    """(a) the SDK on its own: client (unless `shared`), create, iterate, close."""
    extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if sdk == "openai" else {}
    with measured() as run:
        client = shared or sdk_client(sdk, base_url)
        try:
            stream = client.chat.completions.create(model=MODEL, messages=messages(tokens),
                                                    stream=True, **extra)
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    run.first()
                    run.chunks += 1
                if getattr(chunk, "usage", None) is not None:  # zhipu: on the last content chunk
                    run.usage_tokens = chunk.usage.completion_tokens
        finally:
            if shared is None:
                client.close()
    return run


def layered(backend: Any, endpoint_id: str, base_url: str, tokens: int, poll_s: float,
            read_text: bool) -> Run:
    """(b) prepare + open_stream + events(poll_s), as components/chat_runner.py reads an answer."""
    endpoint = backend.endpoint(endpoint_id)
    conn = Connection(base_url=base_url, api_key="x")
    with measured() as run:
        request = backend.prepare(endpoint, MODEL, messages(tokens), {"max_tokens": tokens})
        stream = backend.open_stream(request, endpoint, conn)
        for delta in stream.events(poll_s=poll_s):
            if delta is None:
                continue
            run.first()  # a delta may hold several tokens: deltas that arrive together are joined
            if read_text:
                _ = stream.text  # the page redraws answer.text + cursor on every delta
    rec = stream.record
    run.chunks = len(rec.text.split())  # the fake server's tokens are "w0 ", "w1 ", ...
    if rec.outcome != "ok":
        print(f"  backend run ended {rec.outcome}: {rec.error!r}", file=sys.stderr)
    run.usage_tokens = rec.usage.completion_tokens if rec.usage else None
    return run


@dataclass
class Pair:
    a: Run
    b: Run
    b_first: bool

    @property
    def ratio(self) -> float:
        return self.b.total_s / self.a.total_s

    @property
    def ttft_added_ms(self) -> float:
        return (self.b.ttft_s - self.a.ttft_s) * 1000.0


def run_pairs(reps: int, warmup: int, run_a: Callable[[], Run], run_b: Callable[[], Run]) -> list[Pair]:
    """A B, B A, A B ... so that a slow drift of the machine falls on both sides alike."""
    for _ in range(warmup):
        run_a()
        run_b()
    pairs = []
    for i in range(reps):
        if i % 2:
            b = run_b()
            a = run_a()
        else:
            a = run_a()
            b = run_b()
        pairs.append(Pair(a, b, b_first=bool(i % 2)))
    return pairs


def complete(run: Run, tokens: int) -> bool:
    return run.chunks == tokens and run.usage_tokens == tokens


def report(sdk: str, pairs: list[Pair], tokens: int, goal: float) -> tuple[str, bool]:
    """Print the table for one SDK; return the summary line and whether every run was whole."""
    print(f"\n[{sdk}] {len(pairs)} repetitions, {tokens} tokens each")
    print(f"{'rep':>3} {'order':>5} {'a total s':>9} {'b total s':>9} {'b/a':>6} {'a ttft ms':>9} "
          f"{'b ttft ms':>9} {'+ms':>7} {'cpu a ms':>8} {'cpu b ms':>8}  tokens a/b")
    whole = True
    for i, p in enumerate(pairs, 1):
        ok = complete(p.a, tokens) and complete(p.b, tokens)
        whole = whole and ok
        got = f"{p.a.chunks}/{p.b.chunks}"
        if not ok:
            got += f"  INCOMPLETE (usage {p.a.usage_tokens}/{p.b.usage_tokens})"
        print(f"{i:>3} {'BA' if p.b_first else 'AB':>5} {p.a.total_s:>9.3f} {p.b.total_s:>9.3f} "
              f"{p.ratio:>6.3f} {p.a.ttft_s * 1000:>9.1f} {p.b.ttft_s * 1000:>9.1f} "
              f"{p.ttft_added_ms:>+7.1f} {p.a.cpu_s * 1000:>8.0f} {p.b.cpu_s * 1000:>8.0f}  {got}")
    ratios = [p.ratio for p in pairs]
    med, lo, hi = statistics.median(ratios), min(ratios), max(ratios)
    added = statistics.median(p.ttft_added_ms for p in pairs)

    def mid(values: Iterator[float]) -> float:
        return statistics.median(list(values))

    best = min(p.b.total_s for p in pairs) / min(p.a.total_s for p in pairs)
    a_total, b_total = mid(p.a.total_s for p in pairs), mid(p.b.total_s for p in pairs)
    print(f"median total a {a_total:.3f} s, b {b_total:.3f} s; best b / best a {best:.3f}; "
          f"{'PASS' if med <= goal else 'ABOVE GOAL'} (goal b/a <= {goal})")
    a_cpu, b_cpu = mid(p.a.cpu_s for p in pairs) * 1000, mid(p.b.cpu_s for p in pairs) * 1000
    print(f"client CPU b/a {mid(p.b.cpu_s / p.a.cpu_s for p in pairs):.3f} (a {a_cpu:.0f} ms, "
          f"b {b_cpu:.0f} ms); voluntary context switches a {mid(p.a.switches for p in pairs):.0f}, "
          f"b {mid(p.b.switches for p in pairs):.0f}")
    if hi - lo > 4 * (goal - 1.0):
        print(f"note: the spread ({lo:.3f}..{hi:.3f}) is wider than the margin being judged: the machine is "
              "noisy; raise --reps or rerun when it is idle")
    line = (f"streaming overhead ({sdk}): total b/a = {med:.3f} (min {lo:.3f}, max {hi:.3f}), "
            f"ttft {added:+.1f} ms over {len(pairs)} runs — goal <= {goal}: "
            f"{'met' if med <= goal else 'not met'}")
    return line, whole


def client_cost_ms(sdk: str, base_url: str, n: int = 10) -> float:
    """Median cost of constructing and closing one SDK client (both (a) and (b) pay it per call)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        sdk_client(sdk, base_url).close()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.streaming_overhead", description=__doc__)
    parser.add_argument("--reps", type=int, default=7, help="timed A/B pairs per SDK (default 7)")
    parser.add_argument("--tokens", type=int, default=2000, help="chunks per stream (default 2000)")
    parser.add_argument("--token-delay", type=float, default=0.001,
                        help="seconds the fake server waits between chunks (default 0.001)")
    parser.add_argument("--poll-s", type=float, default=0.1,
                        help="ChatStream.events poll interval; the chat page uses 0.1")
    parser.add_argument("--warmup", type=int, default=1, help="untimed A/B pairs first (default 1)")
    parser.add_argument("--sdk", choices=("openai", "zhipu", "both"), default="both")
    parser.add_argument("--in-process", action="store_true",
                        help="run the fake server in this process (it then shares our GIL and CPU figures)")
    parser.add_argument("--read-text", action="store_true",
                        help="in (b) also read stream.text on every delta, as the page's redraw does")
    parser.add_argument("--plain-new-client", action="store_true",
                        help="(a) makes a new client per call inside the clock (the backends keep one "
                             "per connection, so by default (a) reuses one made before the clock)")
    parser.add_argument("--goal", type=float, default=1.02)
    args = parser.parse_args(argv)

    client = "makes a client per call" if args.plain_new_client else "reuses one client, as (b) does"
    print(f"fake server: {args.tokens} tokens at {args.token_delay * 1000:g} ms/token "
          f"({'in-process' if args.in_process else 'subprocess'}); poll_s={args.poll_s}; (a) {client}; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    server = FakeServer(args.token_delay, args.in_process)
    summaries: list[str] = []
    all_whole = True
    try:
        urls = {"openai": f"{server.url}/v1", "zhipu": f"{server.url}/api/paas/v4"}
        backends: dict[str, tuple[Any, str]] = {"openai": (OpenAICompatBackend(), "custom"),
                                                "zhipu": (ZhipuBackend(), "zhipu")}
        for sdk in ("openai", "zhipu") if args.sdk == "both" else (args.sdk,):
            url, (backend, endpoint_id) = urls[sdk], backends[sdk]
            shared = None if args.plain_new_client else sdk_client(sdk, url)
            pairs = run_pairs(args.reps, args.warmup,
                              lambda sdk=sdk, url=url, shared=shared: plain(sdk, url, args.tokens, shared),
                              lambda backend=backend, eid=endpoint_id, url=url: layered(
                                  backend, eid, url, args.tokens, args.poll_s, args.read_text))
            if shared is not None:
                shared.close()
            line, whole = report(sdk, pairs, args.tokens, args.goal)
            print(f"client construction ({sdk} SDK): {client_cost_ms(sdk, url):.1f} ms per client")
            summaries.append(line)
            all_whole = all_whole and whole
    finally:
        server.stop()
    print(f"\nload average now {os.getloadavg()[0]:.2f}")
    for line in summaries:
        print(line)
    if not all_whole:
        print(f"ERROR: some runs did not receive all {args.tokens} tokens (see INCOMPLETE above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

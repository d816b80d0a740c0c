"""Local model throughput: the same loaded model asked by a plain model.generate with a streamer (a)
and through the local backend as the chat page reads it (b), greedy, alternating A B / B A.

Goals: tokens/s b/a >= 0.95 and time to first token b/a <= 1.10 (medians of the per-pair ratios).
Without --model it builds a random GLM-4 (--hidden, --layers) in a temporary folder; throughput
does not depend on the weights' values. On a busy 2-core machine add --threads 1: the run then
competes for one core instead of two, and the spread between repetitions narrows.

    .venv/bin/python -m bench.local_throughput --threads 1 --reps 41
    .venv/bin/python -m bench.local_throughput --threads 1 --hidden 512 --layers 4 --reps 15 --tokens 96
    .venv/bin/python -m bench.local_throughput --model /models/glm-edge-1.5b-chat --dtype bfloat16
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.local import LOCAL_ENDPOINT, LocalBackend, LocalConnection
from backends.local.cache import LoadedModel, ModelCache

QUESTION = ("You are a helpful assistant. Tell me a story about a small model that runs on a CPU, "
            "and answer in one short sentence: what is the capital of France? ")


@dataclass
class Run:
    ttft_s: float = float("nan")
    total_s: float = float("nan")
    tokens: int = 0
    cpu_s: float = float("nan")  # CPU time of this whole process (all threads) during the run

    @property
    def rate(self) -> float:
        """Tokens per second, end to end: from the call to the last token."""
        return self.tokens / self.total_s

    @property
    def decode_rate(self) -> float:
        """Tokens per second after the first one."""
        return (self.tokens - 1) / (self.total_s - self.ttft_s) if self.tokens > 1 else float("nan")


def messages(words: int) -> list[dict[str, str]]:
    text = (QUESTION * (1 + words // len(QUESTION.split())))
    return [{"role": "user", "content": " ".join(text.split()[:words])}]


def plain(loaded: LoadedModel, msgs: list[dict[str, str]], tokens: int) -> Run:
    """(a) transformers alone: chat template, generate in a thread, TextIteratorStreamer."""
    import torch
    from transformers import TextIteratorStreamer

    model, tokenizer = loaded.model, loaded.tokenizer
    run = Run()
    cpu0, t0 = time.process_time(), time.perf_counter()
    ids = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, return_dict=True)["input_ids"]
    input_ids = torch.tensor([ids], device=model.device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
    out: dict[str, Any] = {}

    def work() -> None:
        with torch.inference_mode():
            out["ids"] = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                        streamer=streamer, max_new_tokens=tokens, do_sample=False)

    thread = threading.Thread(target=work)
    thread.start()
    for text in streamer:
        if text and run.ttft_s != run.ttft_s:
            run.ttft_s = time.perf_counter() - t0
    thread.join()
    run.total_s = time.perf_counter() - t0
    run.cpu_s = time.process_time() - cpu0
    run.tokens = int(out["ids"].shape[1]) - len(ids)
    return run


def layered(backend: LocalBackend, model_id: str, conn: LocalConnection, msgs: list[dict[str, str]],
            tokens: int, budget: int, poll_s: float) -> Run:
    """(b) prepare + open_stream + events(poll_s), as components/chat_runner.py reads an answer."""
    run = Run()
    cpu0, t0 = time.process_time(), time.perf_counter()
    values = {"do_sample": False, "max_new_tokens": tokens, "context_budget": budget}
    request = backend.prepare(LOCAL_ENDPOINT, model_id, msgs, values)
    stream = backend.open_stream(request, LOCAL_ENDPOINT, conn)
    for delta in stream.events(poll_s=poll_s):
        if delta and run.ttft_s != run.ttft_s:
            run.ttft_s = time.perf_counter() - t0
    run.total_s = time.perf_counter() - t0
    run.cpu_s = time.process_time() - cpu0
    rec = stream.record
    if rec.outcome != "ok":
        print(f"  backend run ended {rec.outcome}: {rec.error!r}", file=sys.stderr)
    run.tokens = rec.usage.completion_tokens if rec.usage and rec.usage.completion_tokens else 0
    return run


def report(pairs: list[tuple[Run, Run, bool]], goal: float, ttft_goal: float) -> list[str]:
    print(f"{'rep':>3} {'order':>5} {'a tok/s':>8} {'b tok/s':>8} {'b/a':>6} {'a ttft ms':>9} "
          f"{'b ttft ms':>9} {'ttft b/a':>8} {'cpu b/a':>7}  tokens a/b")
    for i, (a, b, b_first) in enumerate(pairs, 1):
        print(f"{i:>3} {'BA' if b_first else 'AB':>5} {a.rate:>8.1f} {b.rate:>8.1f} {b.rate / a.rate:>6.3f} "
              f"{a.ttft_s * 1000:>9.1f} {b.ttft_s * 1000:>9.1f} {b.ttft_s / a.ttft_s:>8.3f} "
              f"{b.cpu_s / a.cpu_s:>7.3f}  {a.tokens}/{b.tokens}")
    ratios = [b.rate / a.rate for a, b, _ in pairs]
    ttfts = [b.ttft_s / a.ttft_s for a, b, _ in pairs]
    added = statistics.median((b.ttft_s - a.ttft_s) * 1000 for a, b, _ in pairs)
    med, ttft_med = statistics.median(ratios), statistics.median(ttfts)
    a_rate = statistics.median(a.rate for a, _, _ in pairs)
    b_rate = statistics.median(b.rate for _, b, _ in pairs)
    a_ttft = statistics.median(a.ttft_s for a, _, _ in pairs) * 1000
    b_ttft = statistics.median(b.ttft_s for _, b, _ in pairs) * 1000
    print(f"median tokens/s a {a_rate:.1f}, b {b_rate:.1f}; ratio b/a {med:.3f} (min {min(ratios):.3f}, "
          f"max {max(ratios):.3f}): {'PASS' if med >= goal else 'BELOW GOAL'} (goal >= {goal})")
    cpu = statistics.median(b.cpu_s / a.cpu_s for a, b, _ in pairs)
    decode = statistics.median(b.decode_rate / a.decode_rate for a, b, _ in pairs)
    print(f"median decode tokens/s (after the first) b/a {decode:.3f}; CPU time of this process b/a "
          f"{cpu:.3f} (the layer's extra work, whatever the wall clock did)")
    print(f"median time to first token a {a_ttft:.1f} ms, b {b_ttft:.1f} ms ({added:+.1f} ms); ratio b/a "
          f"{ttft_med:.3f} (min {min(ttfts):.3f}, max {max(ttfts):.3f}): "
          f"{'PASS' if ttft_med <= ttft_goal else 'ABOVE GOAL'} (goal <= {ttft_goal})")
    return [f"tokens/s b/a = {med:.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}; a {a_rate:.1f}, "
            f"b {b_rate:.1f} tok/s; CPU b/a {cpu:.3f}) — goal >= {goal}: "
            f"{'met' if med >= goal else 'not met'}",
            f"ttft b/a = {ttft_med:.3f} ({a_ttft:.1f} vs {b_ttft:.1f} ms, {added:+.1f} ms) — goal <= "
            f"{ttft_goal}: {'met' if ttft_med <= ttft_goal else 'not met'}"]


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local_throughput", description=__doc__)
    parser.add_argument("--model", help="a model folder (default: build a random GLM-4 of --hidden/--layers)")
    parser.add_argument("--hidden", type=int, default=64, help="hidden size of the built model (default 64)")
    parser.add_argument("--layers", type=int, default=2, help="layers of the built model (default 2)")
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per answer (default 128)")
    parser.add_argument("--prompt-words", type=int, default=200, help="words in the question (default 200)")
    parser.add_argument("--reps", type=int, default=21, help="timed A/B pairs (default 21)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed A/B pairs first (default 1)")
    parser.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--dtype", default="auto", choices=("auto", "bfloat16", "float16", "float32"))
    parser.add_argument("--poll-s", type=float, default=0.1, help="ChatStream.events poll; the page uses 0.1")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default: torch's own choice); 1 steadies a busy machine")
    parser.add_argument("--goal", type=float, default=0.95, help="tokens/s b/a at least (default 0.95)")
    parser.add_argument("--ttft-goal", type=float, default=1.10, help="ttft b/a at most (default 1.10)")
    args = parser.parse_args(argv)

    folder = args.model
    if folder is None:
        from tests.tiny_glm import build_native

        folder = str(build_native(Path(tempfile.mkdtemp(prefix="bench-glm-")), hidden=args.hidden,
                                  layers=args.layers, window=max(2048, args.tokens + 4 * args.prompt_words)))
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    backend = LocalBackend(models=ModelCache())
    conn = LocalConnection(base_url="local", timeout_s=600, device=args.device, dtype=args.dtype)
    loaded = backend.load(conn.spec(folder))
    # A random model may hit an end token at any point: without one, every run makes --tokens tokens.
    loaded.model.generation_config.eos_token_id = None
    msgs = messages(args.prompt_words)
    prompt_tokens = len(loaded.tokenizer.apply_chat_template(msgs, add_generation_prompt=True,
                                                             return_dict=True)["input_ids"])
    print(f"model {loaded.architecture} ({loaded.parameters / 1e6:.1f} M parameters) on {loaded.spec.device} "
          f"in {loaded.spec.dtype}; prompt {prompt_tokens} tokens, {args.tokens} new tokens, greedy; "
          f"{os.cpu_count()} CPUs, {_threads()} torch threads, load {os.getloadavg()[0]:.2f}")
    run_a = lambda: plain(loaded, msgs, args.tokens)  # noqa: E731
    budget = loaded.context_window or prompt_tokens + args.tokens
    run_b = lambda: layered(backend, folder, conn, msgs, args.tokens, budget, args.poll_s)  # noqa: E731
    for _ in range(args.warmup):
        run_a()
        run_b()
    pairs = []
    for i in range(args.reps):  # A B, B A, ... so that a drift of the machine falls on both alike
        if i % 2:
            b, a = run_b(), run_a()
        else:
            a, b = run_a(), run_b()
        pairs.append((a, b, bool(i % 2)))
    lines = report(pairs, args.goal, args.ttft_goal)
    print(f"\nload average now {os.getloadavg()[0]:.2f}")
    for line in lines:
        print(f"local throughput ({loaded.architecture}, {loaded.spec.device}/{loaded.spec.dtype}): {line}")
    whole = all(a.tokens == b.tokens == args.tokens for a, b, _ in pairs)
    if not whole:
        print(f"ERROR: some runs did not make all {args.tokens} tokens")
    return 0 if whole else 1


if __name__ == "__main__":
    sys.exit(main())

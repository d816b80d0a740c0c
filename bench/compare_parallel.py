"""Compare runner parallelism: four targets at once (b) against the slowest of them alone (a).

The fake server streams at a fixed token rate. Each repetition runs every target alone, one after
the other (a = the slowest of those four runs), and all four together through the compare page's
runner (b), alternating which side goes first. If the targets truly run in parallel, b is about a.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

from backends.base import Connection
from backends.registry import BACKENDS
from bench.streaming_overhead import FakeServer
from core.compare.runner import TICK_S, CompareRun, RunTarget

# (label, backend, endpoint, model, share of --tokens): two zhipuai SDK and two openai SDK targets.
TARGETS = (("A", "zhipu", "zhipu", "glm-4-plus", 1.0), ("B", "openai", "custom", "gpt-4o", 0.9),
           ("C", "zhipu", "zhipu", "glm-4-flash", 0.8), ("D", "openai", "custom", "qwen-plus", 0.7))


@dataclass
class Timed:
    total_s: float
    tokens: list[int]  # completion tokens each target reported
    expected: list[int]
    outcomes: list[str]

    @property
    def whole(self) -> bool:
        return self.tokens == self.expected and all(o == "ok" for o in self.outcomes)


def targets(url: str, tokens: int) -> list[tuple[RunTarget, int]]:
    out = []
    for label, backend_id, endpoint_id, model, share in TARGETS:
        backend = BACKENDS[backend_id]
        endpoint = backend.endpoint(endpoint_id)
        base = f"{url}/api/paas/v4" if backend_id == "zhipu" else f"{url}/v1"
        limit = max(1, int(tokens * share))
        out.append((RunTarget(label, backend, endpoint, model, Connection(base, "x", timeout_s=120),
                              {"max_tokens": limit}), limit))
    return out


def timed(chosen: list[tuple[RunTarget, int]], tokens: int) -> Timed:
    """One CompareRun read as the page reads it: poll, redraw (read every text), sleep a tick."""
    messages = [{"role": "user", "content": f"[[tokens:{tokens}]]"}]
    run = CompareRun([t for t, _ in chosen], messages)
    t0 = time.perf_counter()
    run.run(on_change=lambda r: [res.text for res in r.results], tick_s=TICK_S)
    total = time.perf_counter() - t0
    return Timed(total, [r.completion_tokens or 0 for r in run.results], [n for _, n in chosen],
                 [r.outcome for r in run.results])


@dataclass
class Rep:
    alone: list[Timed]
    together: Timed
    together_first: bool

    @property
    def slowest_s(self) -> float:
        return max(t.total_s for t in self.alone)

    @property
    def ratio(self) -> float:
        return self.together.total_s / self.slowest_s

    @property
    def whole(self) -> bool:
        return self.together.whole and all(t.whole for t in self.alone)


def one_rep(all_targets: list[tuple[RunTarget, int]], tokens: int, together_first: bool) -> Rep:
    def alone() -> list[Timed]:
        return [timed([target], tokens) for target in all_targets]

    if together_first:
        together = timed(all_targets, tokens)
        solo = alone()
    else:
        solo = alone()
        together = timed(all_targets, tokens)
    return Rep(solo, together, together_first)


def report(reps: list[Rep], goal: float) -> str:
    print(f"{'rep':>3} {'order':>5} {'alone s (A B C D)':>27} {'slowest s':>9} {'together s':>10} "
          f"{'b/a':>6} {'sum alone s':>11}  tokens")
    for i, rep in enumerate(reps, 1):
        alone = " ".join(f"{t.total_s:.3f}" for t in rep.alone)
        ok = "" if rep.whole else "  INCOMPLETE " + str([t.tokens for t in rep.alone] + [rep.together.tokens])
        print(f"{i:>3} {'BA' if rep.together_first else 'AB':>5} {alone:>27} {rep.slowest_s:>9.3f} "
              f"{rep.together.total_s:>10.3f} {rep.ratio:>6.3f} "
              f"{sum(t.total_s for t in rep.alone):>11.3f}  {rep.together.tokens}{ok}")
    ratios = [r.ratio for r in reps]
    med, lo, hi = statistics.median(ratios), min(ratios), max(ratios)
    sequential = statistics.median(r.together.total_s / sum(t.total_s for t in r.alone) for r in reps)
    print(f"median slowest alone {statistics.median(r.slowest_s for r in reps):.3f} s, together "
          f"{statistics.median(r.together.total_s for r in reps):.3f} s; together / sum of the four alone "
          f"{sequential:.3f} (1.0 would be one after another); "
          f"{'PASS' if med <= goal else 'ABOVE GOAL'} (goal b/a <= {goal})")
    if hi - lo > 4 * (goal - 1.0):
        print(f"note: the spread ({lo:.3f}..{hi:.3f}) is wide: the machine is noisy; raise --reps")
    return (f"compare parallel: together / slowest alone = {med:.3f} (min {lo:.3f}, max {hi:.3f}) over "
            f"{len(reps)} runs, 4 targets — goal <= {goal}: {'met' if med <= goal else 'not met'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare_parallel", description=__doc__)
    parser.add_argument("--reps", type=int, default=7, help="timed repetitions (default 7)")
    parser.add_argument("--tokens", type=int, default=200,
                        help="tokens of the longest answer; the others get 90, 80, 70 %% (default 200)")
    parser.add_argument("--token-delay", type=float, default=0.005,
                        help="seconds the fake server waits between chunks (default 0.005)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed repetitions first (default 1)")
    parser.add_argument("--in-process", action="store_true", help="run the fake server in this process")
    parser.add_argument("--goal", type=float, default=1.1)
    args = parser.parse_args(argv)

    print(f"fake server: {args.tokens} tokens at {args.token_delay * 1000:g} ms/token "
          f"({'in-process' if args.in_process else 'subprocess'}); 4 targets (2 zhipuai SDK, 2 openai SDK); "
          f"poll tick {TICK_S * 1000:g} ms; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    server = FakeServer(args.token_delay, args.in_process)
    try:
        all_targets = targets(server.url, args.tokens)
        for _ in range(args.warmup):  # SDK imports and the first connections are not what is measured
            one_rep(all_targets, args.tokens, together_first=False)
        reps = [one_rep(all_targets, args.tokens, together_first=bool(i % 2)) for i in range(args.reps)]
    finally:
        server.stop()
    line = report(reps, args.goal)
    print(f"\nload average now {os.getloadavg()[0]:.2f}")
    print(line)
    if not all(r.whole for r in reps):
        print("ERROR: some runs did not receive every token (see INCOMPLETE above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

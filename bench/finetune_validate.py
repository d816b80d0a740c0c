"""Fine-tune validation: a generated 100,000-example JSONL file (~50 MB) validated by
core/finetune/validation.py (b) against `json.loads` of every line alone (a), in the same run.

Both read the same file line by line (the figure that counts: validating a file); the same pair
is also timed on the lines already in memory, where (a) is nothing but `json.loads`."""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from core.finetune.base_models import base_model
from core.finetune.validation import validate_jsonl

TOPICS = ("退货", "发票", "物流", "会员积分", "售后维修", "优惠券", "账户安全", "配送时间")
ENGLISH = ("How do I reset my password?", "Can I change the delivery address after paying?",
           "What does the warranty cover?", "Is there a student discount?")


def make_line(rng: random.Random, i: int) -> str:
    """One example of about 500 bytes: Chinese and English, some with a system message, some
    multi-turn, a few with mistakes (about 1 %) so that every path of the checker runs."""
    topic = rng.choice(TOPICS)
    messages = []
    if rng.random() < 0.7:
        messages.append({"role": "system", "content": f"你是一名专业的电商客服，负责解答关于{topic}的问题。"})
    for turn in range(rng.choice((1, 1, 1, 2))):
        question = (f"第{i}号客户问：关于{topic}，我想了解一下具体流程和需要准备的材料？"
                    if rng.random() < 0.8 else rng.choice(ENGLISH))
        answer = (f"您好！关于{topic}，您可以在订单页面提交申请，我们会在一到三个工作日内处理，"
                  f"处理结果会通过短信通知您。如有疑问请随时联系我们。编号 {i}-{turn}。")
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    roll = rng.random()
    if roll < 0.003:
        return '{"messages": [{"role": "user", "content": "broken'  # not JSON
    if roll < 0.006:
        messages.pop()  # no answer
    elif roll < 0.008:
        messages[-1]["role"] = "bot"
    elif roll < 0.01:
        return json.dumps({"messages": messages, "id": i}, ensure_ascii=False)
    return json.dumps({"messages": messages}, ensure_ascii=False)


def generate(path: Path, count: int, seed: int) -> int:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            fh.write(make_line(rng, i) + "\n")
    return path.stat().st_size


def plain(lines: Iterable[str]) -> int:
    """(a) the baseline: json.loads every line."""
    loads = json.loads
    n = 0
    for line in lines:
        if line.strip():
            try:
                loads(line)
            except ValueError:
                pass
            n += 1
    return n


def validated(lines: Iterable[str], limit: int | None) -> int:
    """(b) the product: validate every line (its json.loads included)."""
    return len(validate_jsonl(lines, limit=limit).problems)


def from_file(path: Path, run: Callable[[Iterable[str]], int]) -> int:
    with path.open(encoding="utf-8") as fh:
        return run(fh)


def pairs(label: str, reps: int, a: Callable[[], int],
          b: Callable[[], int]) -> tuple[list[float], list[float]]:
    """`reps` timed (a, b) pairs, alternating which goes first; prints one row per pair."""
    print(f"\n{label}")
    print(f"{'rep':>3}  {'(a) json.loads s':>16}  {'(b) validate s':>14}  {'b/a':>6}")
    a_times, b_times = [], []
    for rep in range(reps):
        found: dict[str, float] = {}
        for which in ("a", "b") if rep % 2 == 0 else ("b", "a"):
            found[which] = timed(a if which == "a" else b)[0]
        a_times.append(found["a"])
        b_times.append(found["b"])
        print(f"{rep + 1:>3}  {found['a']:>16.3f}  {found['b']:>14.3f}  {found['b'] / found['a']:>6.3f}")
    return a_times, b_times


def summary(label: str, examples: int, a_times: list[float], b_times: list[float], goal: float) -> str:
    ratios = [b / a for a, b in zip(a_times, b_times, strict=True)]
    med, lo, hi = statistics.median(ratios), min(ratios), max(ratios)
    b_med = statistics.median(b_times)
    return (f"finetune validation ({label}): {b_med:.2f} s for {examples:,} examples "
            f"({b_med / examples * 1e6:.1f} µs each) vs json.loads alone {statistics.median(a_times):.2f} s; "
            f"b/a = {med:.3f} (min {lo:.3f}, max {hi:.3f}) over {len(ratios)} runs — goal <= {goal}: "
            f"{'met' if med <= goal else 'not met'}")


def timed(run: Callable[[], int]) -> tuple[float, int]:
    gc.collect()
    t0 = time.perf_counter()
    result = run()
    return time.perf_counter() - t0, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.finetune_validate", description=__doc__)
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=5, help="timed A/B pairs (default 5)")
    parser.add_argument("--model", default="glm-4-flash", help="whose context is the length limit")
    parser.add_argument("--limit", type=int, default=None, help="a length limit instead of the model's")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--goal", type=float, default=3.0)
    args = parser.parse_args(argv)
    model = base_model(args.model)
    limit = args.limit or (model.context if model else None)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jsonl"
        size = generate(path, args.examples, args.seed)
        print(f"{args.examples:,} examples, {size / 1024 / 1024:.1f} MB; length limit {limit} tokens; "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
        timed(lambda: from_file(path, plain))  # warm the page cache and the interpreter
        _, problems = timed(lambda: from_file(path, lambda lines: validated(lines, limit)))
        print(f"problems found: {problems:,}")
        files = pairs("reading the file (the figure that counts)", args.reps, lambda: from_file(path, plain),
                      lambda: from_file(path, lambda ls: validated(ls, limit)))
        lines = path.read_text(encoding="utf-8").splitlines()
    memory = pairs("lines already in memory", args.reps, lambda: plain(lines),
                   lambda: validated(lines, limit))
    print(f"\nload average now {os.getloadavg()[0]:.2f}")
    print(summary("file", args.examples, *files, args.goal))
    print(summary("in memory", args.examples, *memory, args.goal))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Usage page load: the ledger calls of the Usage & cost page's default view, on 100,000 rows (b)
against 1,000 rows (a), in the same run. Goal: b/a <= 3 (everything aggregated in SQL).

Both ledgers are SQLite files in a temporary folder, filled with the same generator (calls spread
over 90 days, several models, backends, pages and outcomes) through `Ledger.record_many`
(executemany). Each repetition loads both views, alternating which goes first.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from core.usage_ledger import Ledger, UsageFilter, UsageRow

GOAL = 3.0
DAYS = 90
MODELS = (("zhipu", "zhipu", "open.bigmodel.cn", "glm-4-plus", "CNY", 5.0),
          ("zhipu", "zhipu", "open.bigmodel.cn", "glm-4-flash", "CNY", 0.0),
          ("zhipu", "zhipu", "open.bigmodel.cn", "glm-4.5-air", "CNY", 0.8),
          ("openai", "zhipu_compat", "open.bigmodel.cn", "glm-4-air", "CNY", 0.5),
          ("openai", "openai", "api.openai.com", "gpt-4o", "USD", 2.5),
          ("openai", "openai", "api.openai.com", "gpt-4o-mini", "USD", 0.15),
          ("openai", "custom", "127.0.0.1:8000", "glm-4-9b-chat", None, None))
PAGES = ("chat", "chat", "chat", "compare", "retrieval", "embeddings", "finetune")
OUTCOMES = (("ok", None, None),) * 17 + (("stopped", None, None),
                                         ("error", "quota", "1113"), ("error", "rate_limit", "1302"))


def make_rows(n: int, seed: int = 7, now: datetime | None = None) -> list[UsageRow]:
    """n plausible calls, spread evenly at random over the DAYS before `now`."""
    rnd = random.Random(seed)
    now = now or datetime.now(UTC)
    sessions = [f"{rnd.getrandbits(64):016x}" for _ in range(max(1, n // 40))]
    out = []
    for _ in range(n):
        backend, endpoint, host, model, currency, per_m = rnd.choice(MODELS)
        outcome, kind, code = rnd.choice(OUTCOMES)
        prompt = rnd.randint(10, 4000)
        completion = 0 if kind else rnd.randint(1, 1500)
        latency = round(rnd.lognormvariate(0.3, 0.6), 3)
        estimated = rnd.random() < 0.05
        out.append(UsageRow(
            ts=now - timedelta(seconds=rnd.uniform(0, DAYS * 86400)), session_id=rnd.choice(sessions),
            page=rnd.choice(PAGES), backend=backend, endpoint=endpoint, base_url_host=host,
            model=model, params={"temperature": 0.95, "top_p": 0.7, "max_tokens": 1024},
            prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion,
            tokens_estimated=estimated, ttft_s=None if kind else round(latency * 0.2, 3),
            latency_s=latency, streamed=rnd.random() < 0.9, outcome=outcome, error_kind=kind,
            error_code=code, cost=None if per_m is None else (prompt + completion) * per_m / 1e6,
            currency=currency))
    out.sort(key=lambda row: row.ts)  # a ledger is appended to as calls happen: oldest first
    return out


def build(path: Path, n: int, batch: int = 5000) -> Ledger:
    ledger = Ledger(f"sqlite:///{path}")
    rows = make_rows(n)
    for i in range(0, n, batch):
        written = ledger.record_many(rows[i:i + batch])
        if written != len(rows[i:i + batch]):
            raise RuntimeError(f"bulk insert failed: {ledger.last_error}")
    return ledger


def default_filter(today: date | None = None) -> UsageFilter:
    """The page's default view: the "30d" preset, local midnight to local midnight."""
    today = today or date.today()
    try:  # the page's own helpers, when present
        from core.usage_view import DEFAULT_PRESET, day_bounds, preset_range

        start, end = day_bounds(*preset_range(DEFAULT_PRESET, today))
    except ImportError:
        start = datetime.combine(today - timedelta(days=29), datetime.min.time()).astimezone()
        end = datetime.combine(today + timedelta(days=1), datetime.min.time()).astimezone()
    return UsageFilter(start=start, end=end)


def time_bucket(f: UsageFilter) -> str:
    from core.usage_view import time_bucket as page_bucket

    return page_bucket(f.start, f.end)


def page_load(ledger: Ledger, f: UsageFilter, export_rows: int = 0) -> dict[str, Any]:
    """The ledger calls the page makes for one view, in its order."""
    out: dict[str, Any] = {"count": ledger.count(UsageFilter()), "distinct": ledger.distinct_values()}
    view = ledger.overview(f, time_bucket(f))  # summary, tokens, cost over time, outcomes, latency
    summary = view.summary
    out["overview"] = view
    out["rows"] = ledger.rows(f, limit=1000, offset=0)
    if export_rows and summary.calls > len(out["rows"]):
        out["export"] = ledger.rows(f, limit=export_rows, offset=0)
    return out


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def per_call(ledger: Ledger, f: UsageFilter) -> dict[str, float]:
    """Milliseconds of each call alone (median of 5), to see where the time goes."""
    calls: dict[str, Callable[[], Any]] = {
        "count": lambda: ledger.count(UsageFilter()), "distinct_values": ledger.distinct_values,
        "overview": lambda: ledger.overview(f, time_bucket(f)),
        "summary": lambda: ledger.summary(f), "tokens_by_model": lambda: ledger.tokens_by_model(f),
        "cost_over_time": lambda: ledger.cost_over_time(f, "day"),
        "latency_histogram": lambda: ledger.latency_histogram(f),
        "outcomes": lambda: ledger.outcomes(f), "rows(1000)": lambda: ledger.rows(f, limit=1000),
    }
    return {name: statistics.median(timed(fn) for _ in range(5)) * 1000 for name, fn in calls.items()}


def one_pass_ms(ledger: Ledger, f: UsageFilter) -> float:
    """The cheapest exact aggregate: one SUM pass over the view's rows (median of 5, ms)."""
    from sqlalchemy import func, select

    from core.usage_queries import conditions
    from core.usage_schema import calls

    stmt = select(func.count(), func.sum(calls.c.prompt_tokens)).where(*conditions(f))
    with ledger.engine.connect() as conn:
        return statistics.median(timed(lambda: conn.execute(stmt).one()) for _ in range(5)) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000, help="rows in ledger a (1,000)")
    parser.add_argument("--large", type=int, default=100_000, help="rows in ledger b (100,000)")
    parser.add_argument("--reps", type=int, default=9, help="timed repetitions after one warm-up")
    parser.add_argument("--export-rows", type=int, default=0,
                        help="also load this many rows for a CSV export, as the page's table does "
                             "(e.g. 50000); 0: the default view only")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"usage page load: {args.small:,} vs {args.large:,} rows, {args.reps} reps, "
          f"load average {load:.2f}, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="usage-bench-") as tmp:
        t0 = time.perf_counter()
        small = build(Path(tmp) / "small.sqlite", args.small)
        t1 = time.perf_counter()
        large = build(Path(tmp) / "large.sqlite", args.large)
        t2 = time.perf_counter()
        print(f"built: {args.small:,} rows in {t1 - t0:.2f} s, {args.large:,} rows in {t2 - t1:.2f} s "
              f"({args.large / (t2 - t1):,.0f} rows/s)")
        f = default_filter()
        seen = {name: ledger.summary(f).calls for name, ledger in (("a", small), ("b", large))}
        print(f"default view (30 days): a {seen['a']:,} calls, b {seen['b']:,} calls")
        for ledger in (small, large):  # warm-up: connections, statement cache, page cache
            page_load(ledger, f, args.export_rows)
        ratios, times_a, times_b = [], [], []
        for rep in range(args.reps):
            order = ((small, times_a), (large, times_b))
            for ledger, times in order if rep % 2 == 0 else reversed(order):
                times.append(timed(lambda ledger=ledger: page_load(ledger, f, args.export_rows)))
            ratios.append(times_b[-1] / times_a[-1])
            print(f"  rep {rep + 1}: a {times_a[-1] * 1000:7.1f} ms   b {times_b[-1] * 1000:7.1f} ms   "
                  f"b/a {ratios[-1]:.2f}")
        print("per call, ms (median of 5):")
        ca, cb = per_call(small, f), per_call(large, f)
        for name in ca:
            print(f"  {name:18s} a {ca[name]:7.2f}   b {cb[name]:7.2f}")
        pa, pb = one_pass_ms(small, f), one_pass_ms(large, f)
        print(f"one SUM pass over the view's rows (the floor of any exact aggregate): "
              f"a {pa:.2f} ms, b {pb:.2f} ms, b/a {pb / pa:.1f}")
        med = statistics.median(ratios)
        what = "default view" + (f" + export of up to {args.export_rows:,} rows" if args.export_rows else "")
        ma, mb = statistics.median(times_a) * 1000, statistics.median(times_b) * 1000
        print(f"median a {ma:.1f} ms, b {mb:.1f} ms")
        print(f"usage page load ({what}): {args.large:,}/{args.small:,} rows = {med:.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f}) over {args.reps} runs — "
              f"goal <= {GOAL:g}: {'met' if med <= GOAL else 'ABOVE GOAL'}")
        small.close()
        large.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

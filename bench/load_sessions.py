"""Many people at once: N browser sessions chatting with the fake server for D seconds.

    .venv/bin/python -m bench.load_sessions [--sessions 20] [--seconds 120]

A team deployment as it runs: `streamlit run app.py` with a team password (each session signs in
as its own user) and a server-side key, the fake LLM (tests/fake_llm) in its own process streaming
`--tokens` words at `--token-delay` s each. First ONE session alone sends `--baseline-turns`
messages (the baseline), then N sessions (Playwright contexts in one headless Chromium) each
chat in a loop until D seconds have passed. Reported: completed turns, time to first token
(pressing Enter to the first word drawn, measured in the page) p50 / p95 under load against the
baseline's, errors (goal: none) and the app process's resident memory at the start, after the lone
session (warm: every page's code imported), at the end of the load and after the sessions closed.
Nothing is asserted; the script exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.browser.chromium import APP_READY as READY
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
STREAMLIT = ROOT / ".venv" / "bin" / "streamlit"
INPUT = "[data-testid='stChatInputTextArea']"
PASSWORD = "bench-team-password"
TURN_TIMEOUT_MS = 120_000

# In the page: the newest assistant message once it shows the first word of a new answer.
FIRST_WORD = """(before) => {
  const answers = [...document.querySelectorAll('[data-testid="stChatMessage"]')]
    .filter(m => m.querySelector('[data-testid="stChatMessageAvatarAssistant"]'));
  const last = answers[answers.length - 1];
  if (answers.length > before && last && /\\bw0\\b/.test(last.innerText)) {
    if (!(window.__t1 > window.__t0)) window.__t1 = performance.now();
    return true;
  }
  return false;
}"""
LAST_WORD = """([before, word]) => {
  const answers = [...document.querySelectorAll('[data-testid="stChatMessage"]')]
    .filter(m => m.querySelector('[data-testid="stChatMessageAvatarAssistant"]'));
  const app = document.querySelector('[data-testid="stApp"]');
  return answers.length > before && answers[answers.length - 1].innerText.includes(word)
    && !answers[answers.length - 1].innerText.includes('▌')
    && app && app.getAttribute('data-test-script-state') === 'notRunning';
}"""


@dataclass
class Stats:
    ttft_s: list[float] = field(default_factory=list)
    turns: int = 0
    errors: Counter[str] = field(default_factory=Counter)


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


def wait_health(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as resp:
                if resp.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"streamlit not healthy on port {port}")


def start_fake(token_delay: float, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The fake LLM in its own process (its streaming must not share our event loop's GIL)."""
    handle = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-u", "-m", "tests.fake_llm", "--port", "0", "--token-delay",
                             str(token_delay)], cwd=ROOT, stdout=subprocess.PIPE, stderr=handle)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if "listening on" not in line:
        raise RuntimeError(f"fake LLM did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip()


def start_app(port: int, fake_url: str, tmp: Path) -> subprocess.Popen[bytes]:
    from core.access import hash_password

    secrets = tmp / "secrets.toml"
    secrets.write_text(f'[access]\npassword_hash = "{hash_password(PASSWORD)}"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ZHIPUAI_", "OPENAI_", "DASHSCOPE_", "PLAYGROUND_", "STREAMLIT_"))}
    env.update({"ZHIPUAI_BASE_URL": f"{fake_url}/api/paas/v4", "ZHIPUAI_API_KEY": "bench.key",
                "PLAYGROUND_BACKEND": "zhipu", "PLAYGROUND_DATA_DIR": str(tmp / "data"),
                "PLAYGROUND_TIMEOUT_S": "60"})
    cmd = [str(STREAMLIT), "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType",
           "none", "--server.runOnSave", "false", "--secrets.files", str(secrets)]
    log = (tmp / "streamlit.log").open("wb")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


async def open_session(browser: Any, url: str, user: str) -> tuple[Any, Any]:
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(url)
    await sign_in(page, user)
    return context, page


async def sign_in(page: Any, user: str) -> None:
    await page.wait_for_selector(READY, timeout=60_000)
    if await page.locator(INPUT).count():
        return
    await page.get_by_role("textbox", name="Your name").fill(user)
    await page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.locator(INPUT).wait_for(state="visible", timeout=60_000)


async def turn(page: Any, text: str, tokens: int) -> float:
    """Send one message and wait for the whole answer; the time to its first word (s)."""
    box = page.locator(INPUT)
    await page.wait_for_selector(READY, timeout=TURN_TIMEOUT_MS)
    await box.fill(text)
    before = await page.locator("[data-testid='stChatMessageAvatarAssistant']").count()
    await page.evaluate("() => { window.__t0 = performance.now(); window.__t1 = 0; }")
    await box.press("Enter")
    await page.wait_for_function(FIRST_WORD, arg=before, polling="raf", timeout=TURN_TIMEOUT_MS)
    ttft_ms = await page.evaluate("() => window.__t1 - window.__t0")
    await page.wait_for_function(LAST_WORD, arg=[before, f"w{tokens - 1}"], polling=100,
                                 timeout=TURN_TIMEOUT_MS)
    return ttft_ms / 1000


async def chat_loop(page: Any, user: str, stats: Stats, tokens: int, until: float | None,
                    turns: int | None = None) -> None:
    k = 0
    while (until is None or time.monotonic() < until) and (turns is None or k < turns):
        k += 1
        try:
            stats.ttft_s.append(await turn(page, f"{user} turn {k} [[tokens:{tokens}]]", tokens))
            stats.turns += 1
        except Exception as exc:  # counted and reported; the session starts again from a reload
            stats.errors[f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"] += 1
            try:
                await page.reload()
                await sign_in(page, user)
            except Exception as again:
                stats.errors[f"reload {type(again).__name__}"] += 1
                return


async def run(args: argparse.Namespace, url: str, app_pid: int) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            rss_start = rss_mb(app_pid)
            alone = Stats()
            context, page = await open_session(browser, url, "baseline")
            await chat_loop(page, "baseline", alone, args.tokens, None, args.baseline_turns)
            await context.close()
            rss_warm = rss_mb(app_pid)  # every page's code imported once
            sessions = await asyncio.gather(*(open_session(browser, url, f"user{i:02d}")
                                              for i in range(args.sessions)))
            loaded = Stats()
            cpu_before = cpu_s(app_pid)
            started = time.monotonic()
            until = started + args.seconds
            await asyncio.gather(*(chat_loop(page, f"user{i:02d}", loaded, args.tokens, until)
                                   for i, (_ctx, page) in enumerate(sessions)))
            elapsed = time.monotonic() - started
            app_cores = (cpu_s(app_pid) - cpu_before) / elapsed
            rss_end = rss_mb(app_pid)
            for context, _page in sessions:
                await context.close()
            await asyncio.sleep(5)  # closed sessions' state stays server.disconnectedSessionTTL (120 s)
            rss_closed = rss_mb(app_pid)
        finally:
            await browser.close()
    return {"sessions": args.sessions, "seconds": args.seconds, "elapsed_s": round(elapsed, 1),
            "tokens_per_answer": args.tokens, "token_delay_s": args.token_delay,
            "baseline": {"turns": alone.turns, "ttft_p50_s": percentile(alone.ttft_s, 0.5),
                         "ttft_p95_s": percentile(alone.ttft_s, 0.95), "errors": dict(alone.errors)},
            "load": {"turns": loaded.turns, "turns_per_min": round(loaded.turns / elapsed * 60, 1),
                     "ttft_p50_s": percentile(loaded.ttft_s, 0.5),
                     "ttft_p95_s": percentile(loaded.ttft_s, 0.95), "errors": dict(loaded.errors),
                     "app_cpu_cores": round(app_cores, 2)},
            "ttft_p95_ratio": percentile(loaded.ttft_s, 0.95) / percentile(alone.ttft_s, 0.95),
            "rss_mb": {"start": round(rss_start, 1), "warm": round(rss_warm, 1),
                       "end_of_load": round(rss_end, 1), "after_close": round(rss_closed, 1)}}


def report(result: dict[str, Any]) -> None:
    base, load, rss = result["baseline"], result["load"], result["rss_mb"]
    print(f"load average (1, 5, 15 min): {os.getloadavg()}  cores: {os.cpu_count()}")
    print(f"1 session alone:  {base['turns']} turns, time to first token p50 {base['ttft_p50_s']:.3f} s, "
          f"p95 {base['ttft_p95_s']:.3f} s, errors {sum(base['errors'].values())}")
    print(f"{result['sessions']} sessions, {result['elapsed_s']} s: {load['turns']} turns "
          f"({load['turns_per_min']}/min), time to first token p50 {load['ttft_p50_s']:.3f} s, "
          f"p95 {load['ttft_p95_s']:.3f} s = {result['ttft_p95_ratio']:.2f} x alone, "
          f"errors {sum(load['errors'].values())}; the app used {load['app_cpu_cores']} of the "
          f"{os.cpu_count()} cores (the rest: Chromium, the fake LLM, everything else)")
    for what, n in sorted(load["errors"].items()):
        print(f"  error x{n}: {what}")
    print(f"app memory: {rss['start']} MB at the start, {rss['warm']} MB after the lone session, "
          f"{rss['end_of_load']} MB at the end of the load ({rss['end_of_load'] / rss['start']:.2f} x the "
          f"start, {rss['end_of_load'] / rss['warm']:.2f} x warm), {rss['after_close']} MB 5 s after the "
          "sessions closed (Streamlit keeps a closed session's state for 120 s)")
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_sessions",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", "-n", type=int, default=20, help="simultaneous browser sessions")
    parser.add_argument("--seconds", "-d", type=float, default=120, help="how long they chat")
    parser.add_argument("--baseline-turns", type=int, default=15, help="turns of the lone session first")
    parser.add_argument("--tokens", type=int, default=30, help="words per answer")
    parser.add_argument("--token-delay", type=float, default=0.02, help="seconds between streamed words")
    parser.add_argument("--port", type=int, default=7048)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="load-sessions-") as name:
        tmp = Path(name)
        fake, fake_url = start_fake(args.token_delay, tmp / "fake.log")
        app = start_app(args.port, fake_url, tmp)
        try:
            wait_health(args.port, app)
            result = asyncio.run(run(args, f"http://127.0.0.1:{args.port}", app.pid))
        finally:
            for proc in (app, fake):
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        report(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

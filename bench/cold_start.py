"""Cold start: server start to first rendered chat page in Chromium, against a hello-world app."""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.browser.chromium import APP_READY as READY
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
STREAMLIT = ROOT / ".venv" / "bin" / "streamlit"
HEAVY = ("torch", "transformers")
# Shared libraries that torch or transformers (through tokenizers / safetensors) would map.
HEAVY_LIB_DIRS = ("/torch/", "/tokenizers/", "/safetensors/")
NOT_APP = {".venv", "tests", "bench", "docs", ".git"}  # what the app never imports at start


@dataclass(frozen=True)
class App:
    name: str
    script: str  # relative to the repository root
    port: int
    content: str  # a selector that shows the page's content rendered


PLAYGROUND = App("playground", "app.py", 7120, "[data-testid='stChatInputTextArea']")
HELLO = App("hello", "bench/hello_app.py", 7121, "text=hello")
WIDGETS = App("widgets", "bench/widgets_app.py", 7122, "[data-testid='stChatInputTextArea']")


@dataclass
class Load:
    health_s: float  # Popen to /_stcore/health == "ok"
    total_s: float  # Popen to the rendered page (script idle and content visible)
    render_s: float  # stApp mounted to the rendered page: the script's first run, widget code, drawing
    rss_mb: float  # the server's resident memory after the first render
    requests: int  # HTTP requests the page made (Streamlit loads widget code lazily)
    kib: int  # their response bodies
    heavy_libs: list[str]  # torch / tokenizers / safetensors libraries mapped into the server


def _health(port: int, deadline: float, proc: subprocess.Popen[bytes]) -> None:
    url = f"http://127.0.0.1:{port}/_stcore/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"no health on port {port}")


def _port_free(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=0.5).close()
    except OSError:
        return True
    return False


def _proc_facts(pid: int) -> tuple[float, list[str]]:
    """Resident memory and any heavy libraries mapped: cheap, no import hook needed."""
    rss = 0.0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        rss = int(match.group(1)) / 1024 if match else 0.0
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return rss, []
    libs = sorted({line.rsplit("/", 1)[-1] for line in maps.splitlines()
                   if "libtorch" in line or any(d in line for d in HEAVY_LIB_DIRS)})
    return rss, libs


def load_once(app: App, browser: Any, env: dict[str, str], timeout_s: float, shared: Any = None) -> Load:
    """Start the server, wait for health, open the page (in a fresh context unless `shared`)."""
    if not _port_free(app.port):
        raise RuntimeError(f"port {app.port} is busy: stop whatever listens there first")
    cmd = [str(STREAMLIT), "run", app.script, "--server.port", str(app.port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    context, page = None, None
    try:
        _health(app.port, time.monotonic() + timeout_s, proc)
        health_s = time.perf_counter() - t0
        if shared is None:
            context = browser.new_context()  # no HTTP cache carried over from an earlier load
        page = (shared or context).new_page()
        sizes: list[int] = []
        page.on("requestfinished", lambda req: sizes.append(max(0, req.sizes()["responseBodySize"])))
        page.goto(f"http://127.0.0.1:{app.port}/", timeout=timeout_s * 1000)
        page.locator("[data-testid='stApp']").wait_for(state="attached", timeout=timeout_s * 1000)
        mounted_s = time.perf_counter() - t0
        page.locator(app.content).first.wait_for(state="visible", timeout=timeout_s * 1000)
        page.locator(READY).wait_for(state="attached", timeout=timeout_s * 1000)
        total_s = time.perf_counter() - t0
        if page.locator("[data-testid='stException']").count():
            print(f"  {app.name}: the page shows an exception", file=sys.stderr)
        rss, libs = _proc_facts(proc.pid)
        return Load(health_s, total_s, total_s - mounted_s, rss, len(sizes), sum(sizes) // 1024, libs)
    finally:
        if page is not None:
            page.close()
        if context is not None:
            context.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def eager_heavy_imports() -> list[str]:
    """Module-level `import torch` / `import transformers` lines in the app's own sources."""
    pattern = re.compile(rf"^(import|from)\s+({'|'.join(HEAVY)})\b", re.MULTILINE)
    hits = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in NOT_APP and not d.startswith("."))
        for name in sorted(f for f in files if f.endswith(".py")):
            file = Path(folder, name)
            text = file.read_text(encoding="utf-8")
            for match in pattern.finditer(text):
                line = text[: match.start()].count("\n") + 1
                hits.append(f"{file.relative_to(ROOT)}:{line}")
    return hits


def installed(module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    venv_python = ROOT / ".venv" / "bin" / "python"
    return subprocess.run([str(venv_python), "-c", code], cwd=ROOT).returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__)
    parser.add_argument("--reps", type=int, default=5, help="timed playground/hello pairs (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed pairs first (default 1)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds allowed per load")
    parser.add_argument("--warm-browser-cache", action="store_true",
                        help="one browser context for all loads: JavaScript comes from its HTTP cache")
    parser.add_argument("--goal", type=float, default=1.2)
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from tests.fake_llm import FakeLLMServer

    cache = "one context, warm HTTP cache" if args.warm_browser_cache else "a fresh context per load"
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; ports {PLAYGROUND.port}/{HELLO.port}; "
          f"browser: {cache}")
    fake = FakeLLMServer().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env.update(ZHIPUAI_BASE_URL=fake.zhipu_base_url, ZHIPUAI_API_KEY="x")
    rows: list[tuple[str, Load, Load]] = []
    widget_rows: list[Load] = []  # the same widgets without our code, once per repetition
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            shared = browser.new_context() if args.warm_browser_cache else None
            try:
                for i in range(args.warmup + args.reps):
                    order = (PLAYGROUND, HELLO) if i % 2 == 0 else (HELLO, PLAYGROUND)
                    got = {app.name: load_once(app, browser, env, args.timeout, shared)
                           for app in order}
                    widgets = load_once(WIDGETS, browser, env, args.timeout, shared)
                    if i >= args.warmup:
                        rows.append(("PH" if order[0] is PLAYGROUND else "HP",
                                     got["playground"], got["hello"]))
                        widget_rows.append(widgets)
            finally:
                browser.close()
    finally:
        fake.stop()

    print(f"\n{len(rows)} repetitions (after {args.warmup} warm-up); seconds from Popen")
    print(f"{'rep':>3} {'order':>5} {'pg health':>9} {'pg page':>8} {'hello health':>12} "
          f"{'hello page':>10} {'ratio':>6} {'render pg/hello':>15} {'req pg/hello':>12} "
          f"{'KiB pg/hello':>12} {'MB pg/hello':>11}")
    ratios = []
    for i, (order, pg, hello) in enumerate(rows, 1):
        ratio = pg.total_s / hello.total_s
        ratios.append(ratio)
        print(f"{i:>3} {order:>5} {pg.health_s:>9.2f} {pg.total_s:>8.2f} {hello.health_s:>12.2f} "
              f"{hello.total_s:>10.2f} {ratio:>6.3f} {f'{pg.render_s:.2f}/{hello.render_s:.2f}':>15} "
              f"{f'{pg.requests}/{hello.requests}':>12} "
              f"{f'{pg.kib}/{hello.kib}':>12} {f'{pg.rss_mb:.0f}/{hello.rss_mb:.0f}':>11}")
    pg_med = statistics.median(r[1].total_s for r in rows)
    hello_med = statistics.median(r[2].total_s for r in rows)
    med = statistics.median(ratios)
    print(f"median playground {pg_med:.2f} s, hello {hello_med:.2f} s (health: "
          f"{statistics.median(r[1].health_s for r in rows):.2f} / "
          f"{statistics.median(r[2].health_s for r in rows):.2f} s; render after mount: "
          f"{statistics.median(r[1].render_s for r in rows):.2f} / "
          f"{statistics.median(r[2].render_s for r in rows):.2f} s)")

    libs = sorted({lib for r in rows for lib in r[1].heavy_libs})
    eager = eager_heavy_imports()
    present = [m for m in HEAVY if installed(m)]
    print(f"torch/tokenizers/safetensors libraries mapped in the playground server: "
          f"{', '.join(libs) or 'none'}; "
          f"module-level torch/transformers imports in the app: {', '.join(eager) or 'none'}; "
          f"installed in .venv: {', '.join(present) or 'neither'}")
    verdict = "met" if med <= args.goal else "ABOVE GOAL"
    print(f"\ncold start: playground/hello = {med:.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}), "
          f"{pg_med:.2f} s vs {hello_med:.2f} s over {len(rows)} runs — goal <= {args.goal}: {verdict}")
    same = [r[1].total_s / w.total_s for r, w in zip(rows, widget_rows, strict=True)]
    print(f"cold start: playground/same widgets without its code = {statistics.median(same):.3f} "
          f"(min {min(same):.3f}, max {max(same):.3f}), {pg_med:.2f} s vs "
          f"{statistics.median(w.total_s for w in widget_rows):.2f} s: what the playground's own code adds")
    return 0


if __name__ == "__main__":
    sys.exit(main())

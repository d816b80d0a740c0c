"""Run the fake LLM server in the foreground: python -m tests.fake_llm --port 8765 [--token-delay 0.01]."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from .server import FakeLLMServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_llm", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument(
        "--token-delay", type=float, default=0.0, help="seconds between stream chunks"
    )
    args = parser.parse_args(argv)

    done = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    server = FakeLLMServer(
        host=args.host, port=args.port, token_delay=args.token_delay
    ).start()
    print(f"fake-llm listening on {server.url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()

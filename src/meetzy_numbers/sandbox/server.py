"""Run the sandbox as an HTTP server.

    python -m meetzy_numbers.sandbox.server --port 8765 --latency-ms 50 \\
        --concurrency-limit 10 [--large] [--state-file PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .core import Sandbox
from .httpd import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m meetzy_numbers.sandbox.server",
        description="Serve the Twilio sandbox over HTTP.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--concurrency-limit", type=int, default=None)
    parser.add_argument("--large", action="store_true", help="big in-memory inventory")
    parser.add_argument("--state-file", type=Path, default=None)
    args = parser.parse_args(argv)
    sandbox = Sandbox.large() if args.large else Sandbox(args.state_file)
    server, thread = serve(
        sandbox,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        concurrency_limit=args.concurrency_limit,
    )
    host, port = server.server_address[:2]
    print(f"Twilio sandbox on http://{host!s}:{port}", flush=True)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()

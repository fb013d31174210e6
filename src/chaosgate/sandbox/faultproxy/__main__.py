"""``python -m chaosgate.sandbox.faultproxy``: run the fault proxy in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from .model import ApiError
from .server import serve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: API address and an optional populate file."""
    parser = argparse.ArgumentParser(
        prog="python -m chaosgate.sandbox.faultproxy",
        description="TCP fault proxy speaking the Toxiproxy HTTP API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API port (default 8474)")
    parser.add_argument(
        "--config", type=Path, help="JSON list of proxies in Toxiproxy's populate format"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT; 0 on a clean stop, 2 on bad config, 1 if it cannot listen."""
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s faultproxy %(levelname)s %(message)s",
    )
    log = logging.getLogger("chaosgate.faultproxy")
    config: object | None = None
    if args.config is not None:
        try:
            config = json.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.error("cannot read config %s: %s", args.config, exc)
            return 2
    try:
        asyncio.run(serve(args.host, args.port, config))
    except ApiError as exc:
        log.error("cannot start: %s", exc.message)
        return 2 if exc.status == 400 else 1
    except OSError as exc:
        log.error("cannot start: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

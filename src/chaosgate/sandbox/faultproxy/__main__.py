"""``python -m chaosgate.sandbox.faultproxy``: run the fault proxy in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
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


# glibc mallopt parameters
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for reuse instead of returning it to the kernel.

    A latency toxic holds up to 256 MiB per direction (:mod:`.pipe`); with
    glibc's defaults each chunk read is new memory the kernel must fault in
    and zero, which halved a delayed stream's throughput. Received chunks
    (up to 256 KiB) come from the heap (mmap only above 4 MiB) and up to
    256 MiB freed stays in the process. False where this is not glibc.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 4 << 20)
                    and libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20))
    return False


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM/SIGINT; 0 on a clean stop, 2 on bad config, 1 if it cannot listen."""
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s faultproxy %(levelname)s %(message)s",
    )
    log = logging.getLogger("chaosgate.faultproxy")
    keep_freed_memory()
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

"""Run one replica of the events pipeline in the foreground.

``python -m chaosgate.sandbox.pipeline {ingest|consumer} --port N --pod NAME
--redis HOST:PORT``

It listens on 127.0.0.1 only, logs to stderr and exits 0 on SIGTERM or
SIGINT; exit code 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from prometheus_client import disable_created_metrics

from . import APPS

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The command line of a pipeline replica."""
    p = argparse.ArgumentParser(prog="python -m chaosgate.sandbox.pipeline",
                                description="Run one replica of the sandbox's events pipeline.")
    p.add_argument("app", choices=APPS, help="which service to run")
    p.add_argument("--port", type=int, required=True, help="listen port on 127.0.0.1")
    p.add_argument("--pod", required=True, help="replica name, e.g. consumer-0")
    p.add_argument("--redis", required=True, help="the broker, HOST:PORT")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, then serve until told to stop."""
    p = parser()
    args = p.parse_args(argv)
    host, _, port = args.redis.rpartition(":")
    if not host or not port.isdigit():
        p.error(f"--redis {args.redis!r} is not HOST:PORT")
    if not 1 <= args.port <= 65535:
        p.error(f"--port {args.port} is not a TCP port")
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO,
        format=f"%(asctime)s {args.pod.replace('%', '%%')} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").disabled = True
    disable_created_metrics()  # type: ignore[no-untyped-call]
    from .resp import Redis
    from .service import run

    redis = Redis(host, int(port))
    if args.app == "ingest":
        from .ingest import build_app
    else:
        from .consumer import build_app
    run(build_app(args.pod, redis), args.port, f"{args.app} ({args.pod})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

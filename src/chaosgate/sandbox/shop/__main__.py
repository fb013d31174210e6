"""Run one shop replica in the foreground.

``python -m chaosgate.sandbox.shop {gateway|catalog|orders} --port N --pod NAME
[--catalog-url URL] [--orders-url URL] [--dsn CONNINFO]``

It listens on 127.0.0.1 only, logs to stderr (startup, shutdown and one line
per error; no access log) and exits 0 on SIGTERM or SIGINT. Exit code 2 for
bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from aiohttp import web
from prometheus_client import disable_created_metrics

from . import APPS

__all__ = ["build", "main", "parser"]

_NEEDS = {
    "gateway": ("catalog_url", "orders_url"),
    "catalog": (),
    "orders": ("dsn",),
}


def parser() -> argparse.ArgumentParser:
    """The command line of a shop replica."""
    p = argparse.ArgumentParser(
        prog="python -m chaosgate.sandbox.shop",
        description="Run one replica of a chaosgate sandbox shop service.",
    )
    p.add_argument("app", choices=APPS, help="which service to run")
    p.add_argument("--port", type=int, required=True, help="listen port on 127.0.0.1")
    p.add_argument("--pod", required=True, help="replica name, e.g. orders-0")
    p.add_argument("--catalog-url", help="gateway: base URL of the catalog service")
    p.add_argument("--orders-url", help="gateway: base URL of the orders service")
    p.add_argument("--dsn", help="orders: libpq connection string (multi-host allowed)")
    return p


def build(args: argparse.Namespace) -> web.Application:
    """The application ``args`` describe (imports only what that service needs)."""
    if args.app == "gateway":
        from .gateway import build_app as build_gateway

        return build_gateway(args.pod, args.catalog_url, args.orders_url)
    if args.app == "orders":
        from .orders import build_app as build_orders

        return build_orders(args.pod, args.dsn)
    from .catalog import build_app as build_catalog

    return build_catalog(args.pod)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, then serve until told to stop."""
    p = parser()
    args = p.parse_args(argv)
    needed = _NEEDS[args.app]
    missing = [f"--{name.replace('_', '-')}" for name in needed if not getattr(args, name)]
    if missing:
        p.error(f"{args.app} needs {' and '.join(missing)}")
    if not 1 <= args.port <= 65535:
        p.error(f"--port {args.port} is not a TCP port")
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"%(asctime)s {args.pod.replace('%', '%%')} %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.access").disabled = True
    # The _created series would double the samples for nothing an SLI reads.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    from .common import run

    run(build(args), args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())

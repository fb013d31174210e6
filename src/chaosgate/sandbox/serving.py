"""Serve one sandbox service's aiohttp application until SIGTERM or SIGINT.

Shared by the shop's and the events pipeline's services. Once the socket is
bound it logs ``<name> serving on HOST:PORT at <epoch>``: the moment the pod
can take traffic again, read as ground truth by faults
(:func:`chaosgate.platforms.groundtruth.serving_moments`). No access log.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from aiohttp import web

__all__ = ["HOST", "serve"]

HOST = "127.0.0.1"
log = logging.getLogger("chaosgate.sandbox")


async def serve(app: web.Application, port: int, name: str,
                shutdown_timeout: float = 5.0) -> None:
    """Serve ``app`` on 127.0.0.1:``port`` until SIGTERM or SIGINT (``name``: for the log)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, HOST, port).start()
        log.info("%s serving on %s:%d at %.6f", name, HOST, port, time.time())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()

"""A tiny HTTP service unlike the shop, for the processes platform's tests.

``--role echo``: ``GET /`` asks its upstream (``--upstream host:port``, through
a fault proxy link) for ``/item`` and answers 200 with its body, or 503 when
the upstream does not answer within 1 s. ``--role store``: ``GET /item``
answers at once. Both serve ``/up`` (readiness) and ``/metrics`` with their
own names: ``echo_requests_total{code}`` and the histogram
``echo_request_seconds``. Standard library only; run by the test's own
supervisord.
"""

from __future__ import annotations

import argparse
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LOCK = threading.Lock()
COUNTS: dict[str, int] = {}
HIST = [0] * (len(BUCKETS) + 1)
TOTAL = [0.0, 0]  # sum, count


def observe(code: int, seconds: float) -> None:
    with LOCK:
        COUNTS[str(code)] = COUNTS.get(str(code), 0) + 1
        for i, edge in enumerate(BUCKETS):
            if seconds <= edge:
                HIST[i] += 1
        HIST[-1] += 1
        TOTAL[0] += seconds
        TOTAL[1] += 1


def metrics(role: str) -> str:
    lines = ["# TYPE echo_requests_total counter"]
    with LOCK:
        for code in ("200", "503"):
            lines.append(f'echo_requests_total{{role="{role}",code="{code}"}} '
                         f"{COUNTS.get(code, 0)}")
        lines.append("# TYPE echo_request_seconds histogram")
        for edge, n in zip(BUCKETS, HIST, strict=False):
            lines.append(f'echo_request_seconds_bucket{{role="{role}",le="{edge}"}} {n}')
        lines.append(f'echo_request_seconds_bucket{{role="{role}",le="+Inf"}} {HIST[-1]}')
        lines.append(f'echo_request_seconds_sum{{role="{role}"}} {TOTAL[0]}')
        lines.append(f'echo_request_seconds_count{{role="{role}"}} {TOTAL[1]}')
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=("echo", "store"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", default="")
    args = parser.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _send(self, code: int, body: bytes, kind: str = "text/plain") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/up":
                self._send(200, b"ok")
            elif self.path == "/metrics":
                self._send(200, metrics(args.role).encode())
            elif args.role == "store" and self.path == "/item":
                self._send(200, b"item")
            elif args.role == "echo" and self.path == "/":
                start = time.monotonic()
                try:
                    with urllib.request.urlopen(f"http://{args.upstream}/item",
                                                timeout=1.0) as resp:
                        body, code = resp.read(), 200
                except OSError:
                    body, code = b"upstream unavailable", 503
                observe(code, time.monotonic() - start)
                self._send(code, body)
            else:
                self._send(404, b"not found")

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()

"""A throwaway PostgreSQL 15 for integration tests, and small polling helpers.

The cluster lives in a temporary directory on a free port, listens on
127.0.0.1 only with trust authentication, and runs as the ``postgres`` OS
user when the tests run as root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from chaosgate.clients import postgres
from chaosgate.sandbox.shop.orders import SCHEMA_SQL

__all__ = ["PG_BIN", "Postgres", "free_port", "wait_until"]

PG_BIN = Path("/usr/lib/postgresql/15/bin")
WAIT = 90.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``predicate`` until it is true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


class Postgres:
    """One PostgreSQL 15 cluster in ``root``, driven with initdb and pg_ctl."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.sockets = root / "sockets"
        self.log = root / "postgres.log"
        self.port = free_port()

    @staticmethod
    def available() -> bool:
        """PostgreSQL 15 is installed and we can run it as a non-root user."""
        if not (PG_BIN / "pg_ctl").exists():
            return False
        return os.geteuid() != 0 or shutil.which("runuser") is not None

    @classmethod
    @contextlib.contextmanager
    def temporary(cls) -> Iterator[Postgres]:
        """A started cluster, stopped and deleted on exit whatever happened."""
        pg = cls(Path(tempfile.mkdtemp(prefix="chaosgate-pg-")))
        try:
            pg.init()
            pg.start()
            yield pg
        finally:
            pg.stop(check=False)
            shutil.rmtree(pg.root, ignore_errors=True)

    def _pg(self, *argv: str, check: bool = True) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*prefix, *argv], cwd=self.root, capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if check and done.returncode != 0:
            log = self.log.read_text()[-3000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}\n{log}"
            )

    def init(self) -> None:
        """initdb with trust authentication and a superuser named postgres."""
        self.sockets.mkdir()
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (self.root, self.sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._pg(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                 "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sockets} "
                   "-c fsync=off -c max_connections=40")
        self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                 "-o", options, "-w", "-t", "60", "start")

    def stop(self, check: bool = True) -> None:
        """Fast shutdown: clients are disconnected, the server is gone on return."""
        self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60",
                 "stop", check=check)

    def conninfo(self, dbname: str = "postgres", user: str = "postgres") -> str:
        """libpq conninfo of this server."""
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user} connect_timeout=5"

    def create_shop(self) -> None:
        """Role and database ``shop`` with the orders table, as the sandbox manager does."""
        postgres.ensure_role_and_database(self.conninfo(), "shop", "shop")
        postgres.execute(self.conninfo("shop", "shop"), [SCHEMA_SQL])

"""The only module of the harness that talks to PostgreSQL (libpq through psycopg).

The harness needs little of a database: that a role and a database exist
(the sandbox's set-up; the tests' own servers), and to run a few statements
(a schema, grants) and to read back what the system wrote (the recovery
point check after a failover). The system under test (the sandbox shop) has its own
connections; this is the harness's side only. Every connection has a
timeout in its conninfo, chosen by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

from ..exceptions import Inconclusive

__all__ = ["ensure_role_and_database", "execute", "query"]


def ensure_role_and_database(conninfo: str, role: str, database: str) -> None:
    """Create the login ``role`` and the ``database`` it owns, unless they exist
    (``conninfo``: a superuser's connection to any database)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (database,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(role)))


def execute(conninfo: str, statements: Sequence[str]) -> None:
    """Run ``statements`` in order, in one transaction (committed on success)."""
    with psycopg.connect(conninfo) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def query(conninfo: str, statement: str,
          params: Sequence[object] | Mapping[str, object] = ()) -> list[tuple[Any, ...]]:
    """The rows of one read-only statement (``%s`` or ``%(name)s`` placeholders filled
    from ``params``); Inconclusive (exit 3) naming the server (never its password) when
    it cannot be read."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            return list(conn.execute(statement.encode(), params).fetchall())
    except psycopg.Error as exc:
        raise Inconclusive(f"PostgreSQL ({describe(conninfo)}) could not be read: "
                           f"{str(exc).strip() or type(exc).__name__}") from None


def describe(conninfo: str) -> str:
    """``conninfo`` without its password: host, port, dbname and user only."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "an unparsable connection string"
    return " ".join(f"{k}={parts[k]}" for k in ("host", "port", "dbname", "user") if k in parts)

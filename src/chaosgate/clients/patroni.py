"""The only module that talks to Patroni's REST API.

Used by the sandbox manager (is there a leader and a streaming replica?) and
by the database faults (switchover, failover, timeline history). A failed
call names each REST endpoint and why it failed (connection refused, no
answer, connection closed: Patroni's answer to a request it cannot serve
when its DCS is down); :meth:`PatroniClient.listening` says which endpoints
accept connections at all, so a caller can tell Patroni down from its DCS
down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from ..exceptions import SandboxError
from .http import describe_failure, unreachable

__all__ = ["ClusterMember", "PatroniClient"]


@dataclass(frozen=True)
class ClusterMember:
    """A member as ``GET /cluster`` reports it."""

    name: str
    role: str  # leader | replica | sync_standby | standby_leader
    state: str  # running | streaming | starting | stopped | ...
    timeline: int | None
    lag: int | None
    api_url: str

    @property
    def is_leader(self) -> bool:
        return self.role in ("leader", "master", "primary")


class PatroniClient:
    """Talks to one or more Patroni REST endpoints; any healthy one answers."""

    def __init__(self, urls: list[str], timeout: float = 3.0) -> None:
        if not urls:
            raise ValueError("PatroniClient needs at least one REST API URL")
        self.urls = [u.rstrip("/") for u in urls]
        self.timeout = timeout
        self._session = requests.Session()

    def _get(self, path: str) -> Any:
        errors = []
        for url in self.urls:
            try:
                resp = self._session.get(url + path, timeout=self.timeout)
                resp.raise_for_status()
                return resp.json()
            except (requests.RequestException, ValueError) as exc:
                errors.append(f"{url} {describe_failure(exc, self.timeout)}")
        raise SandboxError(f"no Patroni REST API answered {path} ({'; '.join(errors)})")

    def listening(self) -> dict[str, str | None]:
        """Each REST endpoint -> why it accepts no TCP connection (None: it does)."""
        return {url: unreachable(url, timeout=self.timeout) for url in self.urls}

    def cluster(self) -> list[ClusterMember]:
        """Members with role, state, timeline and lag."""
        data = self._get("/cluster")
        return [
            ClusterMember(
                name=m["name"],
                role=m.get("role", ""),
                state=m.get("state", ""),
                timeline=m.get("timeline"),
                lag=m.get("lag") if isinstance(m.get("lag"), int) else None,
                api_url=m.get("api_url", ""),
            )
            for m in data.get("members", [])
        ]

    def leader(self) -> ClusterMember | None:
        """The current leader, if the cluster has one."""
        return next((m for m in self.cluster() if m.is_leader and m.state == "running"), None)

    def history(self) -> list[list[Any]]:
        """Timeline history: ``[timeline, lsn, reason, timestamp, new_leader]`` rows."""
        return list(self._get("/history"))

    def healthy(self) -> bool:
        """One running leader and every other member streaming or running."""
        try:
            members = self.cluster()
        except SandboxError:
            return False
        leaders = [m for m in members if m.is_leader and m.state == "running"]
        replicas = [m for m in members if not m.is_leader]
        return (
            len(leaders) == 1
            and len(members) == len(self.urls)
            and all(m.state in ("streaming", "running") for m in replicas)
        )

    def switchover(self, leader: str, candidate: str | None = None) -> str:
        """Planned switchover away from ``leader``; returns Patroni's message."""
        body: dict[str, str] = {"leader": leader}
        if candidate:
            body["candidate"] = candidate
        return self._post("/switchover", body)

    def failover(self, candidate: str) -> str:
        """Manual failover to ``candidate``; returns Patroni's message."""
        return self._post("/failover", {"candidate": candidate})

    def _post(self, path: str, body: dict[str, str]) -> str:
        errors = []
        for url in self.urls:
            try:
                resp = self._session.post(url + path, json=body, timeout=max(self.timeout, 30))
            except requests.RequestException as exc:
                errors.append(f"{url} {describe_failure(exc, max(self.timeout, 30))}")
                continue
            if resp.status_code == 200:
                return resp.text
            errors.append(f"{url}: HTTP {resp.status_code} {resp.text.strip()}")
        raise SandboxError(f"Patroni {path} failed: " + "; ".join(errors))

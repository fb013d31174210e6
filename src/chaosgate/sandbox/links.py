"""The fault proxy's links held against the topology: what is wrong with each.

Pure: :func:`check_links` compares the links the topology declares with the
proxies the fault proxy reports (``GET /proxies``) and lists every
difference as a :class:`LinkIssue`: a link deleted (what toxiproxy-python's
``destroy_all()`` does), disabled, listening or forwarding elsewhere than the
topology says, or carrying a toxic. An issue an open ledger fault accounts
for (its toxic, or the link its partition disabled; :class:`LinkHolds`) is
listed with that fault's id and is not wrong: the fault's owner, or
``chaosgate cleanup``, reverts it. Proxies the topology does not declare are
someone else's and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..clients.toxiproxy import ProxyState
from .topology import Link

__all__ = ["IssueKind", "LinkHolds", "LinkIssue", "check_links", "link_state"]

IssueKind = Literal["missing", "moved", "disabled", "toxic"]

#: What ``sandbox status`` shows for a link with an issue of each kind (worst first).
STATES: Mapping[IssueKind, str] = {
    "missing": "MISSING", "moved": "MOVED", "disabled": "DISABLED", "toxic": "TOXIC",
}


@dataclass(frozen=True)
class LinkHolds:
    """What open ledger faults hold on the links: their toxics and the links they disabled.

    ``toxics`` maps ``(link, toxic name)`` to the fault id; ``disabled`` maps a
    link to the fault id of the partition that disabled it.
    """

    toxics: Mapping[tuple[str, str], str] = field(default_factory=dict)
    disabled: Mapping[str, str] = field(default_factory=dict)

    def merge(self, other: LinkHolds) -> LinkHolds:
        """Both holds together."""
        return LinkHolds({**self.toxics, **other.toxics}, {**self.disabled, **other.disabled})


@dataclass(frozen=True)
class LinkIssue:
    """One way a link differs from the topology.

    ``fault`` is the open ledger fault that accounts for it (then it is not
    wrong); ``toxic`` names the toxic of a ``toxic`` issue.
    """

    link: str
    kind: IssueKind
    detail: str
    fault: str | None = None
    toxic: str = ""

    @property
    def wrong(self) -> bool:
        """True unless an open fault accounts for it."""
        return self.fault is None

    def describe(self) -> str:
        """One line: ``link orders-pg0: deleted from the fault proxy``."""
        held = f" (held by open fault {self.fault})" if self.fault else ""
        return f"link {self.link}: {self.detail}{held}"


def _host_port(address: str) -> tuple[str, int] | None:
    """``host:port`` -> ``(host, port)``; the any-address and ``localhost`` mean loopback."""
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit():
        return None
    if host in ("", "0.0.0.0", "::", "localhost"):
        host = "127.0.0.1"
    return host, int(port)


def _toxic_text(toxic: Mapping[str, object]) -> str:
    attributes = toxic.get("attributes")
    attrs = ""
    if isinstance(attributes, Mapping) and attributes:
        attrs = " " + ",".join(f"{k}={v}" for k, v in attributes.items())
    return f"{toxic.get('type', '?')} {toxic.get('stream', '?')}{attrs}"


def check_links(links: Sequence[Link], proxies: Mapping[str, ProxyState],
                holds: LinkHolds = LinkHolds()) -> list[LinkIssue]:
    """Every issue of every declared link, in the topology's order (none: all as declared)."""
    issues: list[LinkIssue] = []
    for link in links:
        proxy = proxies.get(link.name)
        if proxy is None:
            issues.append(LinkIssue(link.name, "missing", "deleted from the fault proxy"))
            continue
        if _host_port(proxy.listen) != _host_port(link.listen_address):
            issues.append(LinkIssue(link.name, "moved",
                                    f"listens on {proxy.listen or '(nothing)'}, "
                                    f"the topology says {link.listen_address}"))
        if _host_port(proxy.upstream) != _host_port(link.upstream_address):
            issues.append(LinkIssue(link.name, "moved",
                                    f"forwards to {proxy.upstream or '(nothing)'}, "
                                    f"the topology says {link.upstream_address}"))
        if not proxy.enabled:
            issues.append(LinkIssue(link.name, "disabled", "disabled",
                                    fault=holds.disabled.get(link.name)))
        for toxic in proxy.toxics:
            name = str(toxic.get("name", ""))
            issues.append(LinkIssue(link.name, "toxic", f"toxic {name} ({_toxic_text(toxic)})",
                                    fault=holds.toxics.get((link.name, name)), toxic=name))
    return issues


def link_state(link: Link, issues: Sequence[LinkIssue]) -> tuple[str, str]:
    """``(state, detail)`` of one link for ``sandbox status``.

    The state is ``UP``, the worst wrong issue's (``MISSING``, ``MOVED``,
    ``DISABLED``, ``TOXIC``), or ``FAULT`` when only open faults account for
    its issues; the detail is the link's addresses, or its issues.
    """
    own = [i for i in issues if i.link == link.name]
    if not own:
        return "UP", f"{link.listen_address} -> {link.upstream_address}"
    wrong = [i for i in own if i.wrong]
    order = list(STATES)
    state = STATES[min((i.kind for i in wrong), key=order.index)] if wrong else "FAULT"
    return state, "; ".join(i.describe().removeprefix(f"link {link.name}: ") for i in own)

"""When a failed-over Patroni cluster counts as healed (pure; no sandbox)."""

from __future__ import annotations

from chaosgate.clients.patroni import ClusterMember
from chaosgate.platforms.sandbox_db import rejoined

HISTORY_TL3 = [[1, 100, "no recovery target specified", "2024-05-01T10:00:00+00:00", "pg1"],
               [2, 200, "no recovery target specified", "2024-05-01T10:05:00+00:00", "pg0"]]


def member(name: str, role: str, timeline: int | None, state: str = "running") -> ClusterMember:
    return ClusterMember(name, role, state, timeline, 0 if role != "leader" else None, "")


def test_every_member_on_the_new_timeline_and_it_in_the_history_is_healed():
    members = [member("pg0", "leader", 3), member("pg1", "replica", 3)]
    result = rejoined("pg1", 2, members, True, HISTORY_TL3)
    assert result.ok, result.detail
    assert "timeline 3 is in pg0's /history" in result.detail


def test_the_new_timeline_not_yet_in_the_leaders_history_is_not_healed():
    # /cluster shows the new timeline everywhere a cycle or two before the leader's
    # /history does; ground truth read then would have no timeline change
    members = [member("pg0", "leader", 3), member("pg1", "replica", 3)]
    result = rejoined("pg1", 2, members, True, HISTORY_TL3[:1])
    assert not result.ok
    assert "timeline 3 is not in pg0's /history yet" in result.detail
    assert not rejoined("pg1", 2, members, True, None).ok  # /history did not answer


def test_every_member_still_showing_the_old_timeline_is_not_healed():
    # right after the leader key moved: the new leader's member key predates its promotion
    members = [member("pg0", "leader", 2), member("pg1", "replica", 2)]
    result = rejoined("pg1", 2, members, True, HISTORY_TL3[:1])
    assert not result.ok
    assert "does not show a timeline after 2 yet" in result.detail


def test_a_member_on_another_timeline_or_an_unhealthy_cluster_is_not_healed():
    members = [member("pg0", "leader", 3), member("pg1", "replica", 2)]
    assert not rejoined("pg1", 2, members, True, HISTORY_TL3).ok
    members = [member("pg0", "leader", 3), member("pg1", "replica", 3, "starting")]
    assert not rejoined("pg1", 2, members, False, HISTORY_TL3).ok
    assert not rejoined("pg9", 2, members, True, HISTORY_TL3).ok  # old leader missing


def test_the_old_leader_back_before_any_failover_is_healed_without_a_new_timeline():
    members = [member("pg1", "leader", 2), member("pg0", "replica", 2)]
    result = rejoined("pg1", 2, members, True, HISTORY_TL3[:1])
    assert result.ok, result.detail
    assert "pg1 is leader" in result.detail


def test_an_unknown_old_timeline_still_needs_the_leaders_timeline_in_its_history():
    members = [member("pg0", "leader", 3), member("pg1", "replica", 3)]
    assert rejoined("pg1", None, members, True, HISTORY_TL3).ok
    assert not rejoined("pg1", None, members, True, HISTORY_TL3[:1]).ok

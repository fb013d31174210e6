"""Seeded pod selection and the safety block, with plain data."""

from __future__ import annotations

import pytest

from chaosgate.exceptions import EXIT_USAGE, UsageError
from chaosgate.faults.selection import (
    SafetyRefused,
    check_blast_radius,
    check_namespace,
    how_many,
    pick,
)
from chaosgate.platforms.base import PodRef
from chaosgate.targets import Safety


def pods(n: int, ready: int | None = None, ns: str = "shop") -> list[PodRef]:
    ready = n if ready is None else ready
    return [PodRef(f"orders-{i}", ns, {"app": "orders"}, i < ready, str(1000 + i))
            for i in range(n)]


def test_how_many_by_qty_or_percent_rounded_up():
    assert how_many(10, 3, None) == 3
    assert how_many(10, None, 25) == 3
    assert how_many(10, None, 30) == 3
    assert how_many(3, None, 1) == 1
    assert how_many(4, None, 100) == 4
    assert how_many(5, None, None) == 1


@pytest.mark.parametrize("qty,percent", [(0, None), (None, 0), (None, 101), (1, 50)])
def test_how_many_refuses_nonsense(qty, percent):
    with pytest.raises(UsageError):
        how_many(4, qty, percent)


def test_pick_is_reproducible_with_a_seed():
    pool = pods(10)
    first = pick(pool, 3, seed=7)
    assert first == pick(pool, 3, seed=7)
    assert len({p.name for p in first}) == 3
    assert {tuple(p.name for p in pick(pool, 3, seed=s)) for s in range(20)} != {
        tuple(p.name for p in first)}


def test_pick_only_takes_ready_pods():
    pool = pods(4, ready=2)
    for seed in range(10):
        assert all(p.ready for p in pick(pool, 2, seed))
    with pytest.raises(SafetyRefused, match="only 2 of 4"):
        pick(pool, 3, seed=1)


def test_namespace_allowlist_and_protected_namespaces():
    safety = Safety(namespaces=("shop", "team-*", "*"))
    check_namespace(safety, "shop")
    check_namespace(safety, "team-a")
    with pytest.raises(SafetyRefused, match="protected") as err:
        check_namespace(safety, "kube-system")
    assert err.value.exit_code == EXIT_USAGE
    check_namespace(Safety(namespaces=("kube-system",)), "kube-system")
    with pytest.raises(SafetyRefused, match=r"safety\.namespaces"):
        check_namespace(Safety(namespaces=("shop",)), "payments")


def test_blast_radius_count_and_percent():
    pool = pods(4)
    safety = Safety(namespaces=("shop",), max_pods_per_fault=2, max_percent_per_fault=50,
                    min_ready_replicas=1)
    check_blast_radius(safety, pool[:2], pool)
    with pytest.raises(SafetyRefused, match="max_pods_per_fault"):
        check_blast_radius(safety, pool[:3], pool)
    tight = Safety(namespaces=("shop",), max_pods_per_fault=5, max_percent_per_fault=25)
    with pytest.raises(SafetyRefused, match="max_percent_per_fault"):
        check_blast_radius(tight, pool[:2], pool)


def test_min_ready_replicas_left():
    pool = pods(3, ready=2)  # orders-2 is not ready
    safety = Safety(namespaces=("shop",), max_pods_per_fault=3, max_percent_per_fault=100,
                    min_ready_replicas=1)
    check_blast_radius(safety, pool[:1], pool)
    with pytest.raises(SafetyRefused, match="min_ready_replicas"):
        check_blast_radius(safety, pool[:2], pool)

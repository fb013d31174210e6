"""Recovery point: acknowledged writes lost or duplicated, and the gate on them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from chaosgate.cli import app
from chaosgate.exceptions import EXIT_USAGE
from chaosgate.gameday.recovery_point import (
    acknowledged,
    recovery_point,
    recovery_point_gate,
)
from chaosgate.load.run import Checkout


def checkout(seq: int, order_id: int | None, status: int | None = 201) -> Checkout:
    return Checkout(1000.0 + seq, seq, order_id, order_id is not None, status)


def test_only_201s_with_an_order_id_are_acknowledged() -> None:
    log = [checkout(1, 11), checkout(2, None, 503), checkout(3, None, None), checkout(4, 14)]
    assert [c.client_seq for c in acknowledged(log)] == [1, 4]


def test_lost_and_duplicated_writes_are_counted_and_only_losses_fail() -> None:
    log = [checkout(1, 11), checkout(2, 12), checkout(3, 13), checkout(4, None, 503)]
    # 2 is gone; its id went to another order on the new primary; 3 was stored twice
    found = {1: [11], 3: [13, 27], 5: [12]}
    point = recovery_point(log, found)
    assert (point.checked, point.lost, point.duplicated) == (3, (2,), (3,))
    assert point.describe() == ("3 acknowledged writes checked: 1 lost, 1 duplicated "
                                "(lost client_seq 2)")
    gate = recovery_point_gate(point)
    assert (gate.status, gate.value) == ("fail", "1 lost, 1 duplicated")
    assert recovery_point_gate(point, max_lost=1).status == "pass"
    assert point.to_json()["lost_client_seq"] == [2]


def test_a_reused_id_for_another_order_is_still_a_loss() -> None:
    point = recovery_point([checkout(7, 70)], {7: [71]})
    assert point.lost == (7,)


def test_nothing_to_check_is_never_a_pass() -> None:
    assert recovery_point_gate(recovery_point([], {})).status == "inconclusive"
    unchecked = recovery_point_gate(None, why_unchecked="PostgreSQL down")
    assert (unchecked.status, unchecked.detail) == ("inconclusive", "PostgreSQL down")
    assert recovery_point_gate(recovery_point([checkout(1, 11)], {1: [11]})).status == "pass"


def test_fault_failover_db_refuses_a_missing_checkout_log_before_touching_anything(
        tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["fault", "failover-db", "--method", "switchover",
                                      "--target", str(tmp_path / "never-read.yaml"),
                                      "--checkout-log", str(tmp_path / "none.jsonl")])
    assert result.exit_code == EXIT_USAGE
    assert "--checkout-log" in result.output and "checkouts.jsonl" in result.output

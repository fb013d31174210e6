"""What ``sandbox down`` counts as the sandbox's, decided on made-up process tables."""

from __future__ import annotations

from chaosgate.clients.processes import Identity, ProcStat
from chaosgate.sandbox.teardown import (
    LeftRunning,
    foreign_processes,
    load_record,
    owned_processes,
    save_record,
    topmost,
)


def _p(pid: int, ppid: int, session: int, start: int | None = None, state: str = "S"
       ) -> ProcStat:
    return ProcStat(pid, f"p{pid}", state, ppid, pid, session, pid * 10 if start is None
                    else start)


# init(1); a shell (100) that ran `down`; supervisord (200, own session) with programs,
# one reparented to init but still in its session; a detached postmaster (300) with a
# backend; an unrelated process (400) in the shell's session.
TABLE = {p.pid: p for p in (
    _p(1, 0, 1),
    _p(100, 1, 100), _p(101, 100, 100),
    _p(200, 1, 200), _p(201, 200, 200), _p(202, 201, 200), _p(203, 1, 200),
    _p(204, 200, 200, state="Z"),
    _p(300, 1, 300), _p(301, 300, 300),
    _p(400, 100, 100),
)}
SUPERVISORD = Identity(200, 2000)


def test_supervisord_its_descendants_and_its_session_are_ours():
    owned = owned_processes(TABLE, SUPERVISORD)
    assert {i.pid for i in owned} == {200, 201, 202, 203}  # 204 is a zombie
    assert owned[SUPERVISORD] == "supervisord"
    assert owned[Identity(203, 2030)] == "supervised"


def test_a_supervisord_identity_that_no_longer_matches_brings_nothing():
    assert owned_processes(TABLE, Identity(200, 1999)) == {}  # pid 200 was reused


def test_a_non_leader_supervisord_does_not_bring_its_session():
    table = {**TABLE, 200: _p(200, 100, 100)}  # not daemonized: the shell's session
    owned = owned_processes(table, SUPERVISORD)
    assert {i.pid for i in owned} == {200, 201, 202}  # not 100, 101, 400 nor 203


def test_postmasters_bring_their_backends():
    owned = owned_processes(TABLE, None, postmasters=[Identity(300, 3000)])
    assert owned == {Identity(300, 3000): "postmaster", Identity(301, 3010): "postgres"}


def test_recorded_identities_count_only_while_they_match():
    recorded = {Identity(201, 2010): "supervised", Identity(400, 1): "supervised"}
    owned = owned_processes(TABLE, None, recorded=recorded)
    assert set(owned) == {Identity(201, 2010), Identity(202, 2020)}


def test_nothing_is_ours_without_proof():
    assert owned_processes(TABLE, None) == {}


def test_foreign_processes_name_the_state_dir_by_path_components():
    cmdlines = {
        1: ["/sbin/init"],
        100: ["bash"],
        101: ["chaosgate", "sandbox", "down", "--state-dir", "/tmp/sb"],  # me
        200: ["supervisord", "-c", "/tmp/sb/conf/supervisord.conf"],  # ours
        300: ["postgres", "-D", "/tmp/sb/data/pg0"],
        400: ["sleep", "300", "/tmp/sb/x"],
        401: ["sleep", "300", "/tmp/sb-other/x"],
    }
    table = {**TABLE, 401: _p(401, 1, 401)}
    found = foreign_processes(table, cmdlines, ["/tmp/sb"], ours=[200], me=101)
    assert found == [LeftRunning(300, "postgres -D /tmp/sb/data/pg0"),
                     LeftRunning(400, "sleep 300 /tmp/sb/x")]
    assert str(found[1]) == "pid 400 cmd sleep 300 /tmp/sb/x"


def test_the_record_round_trips_and_belongs_to_one_boot(tmp_path):
    path = tmp_path / "run" / "sandbox-processes.json"
    owned = {Identity(200, 2000): "supervisord", Identity(300, 3000): "postmaster"}
    save_record(path, "boot-a", owned)
    assert not path.exists()  # no run directory: nothing to record into
    path.parent.mkdir()
    save_record(path, "boot-a", owned)
    assert load_record(path, "boot-a") == owned
    assert load_record(path, "boot-b") == {}
    save_record(path, "boot-a", {})
    assert not path.exists()
    assert load_record(path, "boot-a") == {}
    path.write_text("{not json")
    assert load_record(path, "boot-a") == {}


def test_topmost_leaves_children_to_their_parents():
    survivors = [Identity(300, 3000), Identity(301, 3010), Identity(202, 2020),
                 Identity(203, 1)]  # 203 is someone else now
    assert topmost(survivors, TABLE) == [Identity(202, 2020), Identity(300, 3000)]

"""/proc parsing, path matching and identity-checked signals, with plain data."""

from __future__ import annotations

import signal
import subprocess

import pytest

from chaosgate.clients.processes import (
    Identity,
    ProcStat,
    ancestors,
    descendants,
    names_path,
    parse_btime,
    parse_postmaster_pid,
    parse_stat,
    read_stat,
    signal_identity,
    split_cmdline,
    start_epoch,
)

# A real line (python3, sleeping), fields after starttime trimmed to what the kernel prints.
STAT = ("4242 (python3) S 4200 4242 4100 34816 4242 4194304 1380 0 0 0 5 2 0 0 20 0 1 0 "
        "987654 17637376 2412 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0 "
        "0 0 0 0 0 0 0 0 0 0 0")


def test_parse_stat_reads_parentage_session_and_start():
    stat = parse_stat(STAT)
    assert stat == ProcStat(pid=4242, comm="python3", state="S", ppid=4200, pgrp=4242,
                            session=4100, start_ticks=987654)
    assert stat.alive and stat.identity == Identity(4242, 987654)


def test_parse_stat_survives_a_command_name_with_spaces_and_parentheses():
    stat = parse_stat(STAT.replace("(python3)", "(a) b (c)"))
    assert stat.comm == "a) b (c" and stat.ppid == 4200 and stat.start_ticks == 987654


def test_a_zombie_is_not_alive():
    assert not parse_stat(STAT.replace(") S ", ") Z ")).alive


@pytest.mark.parametrize("text", ["", "4242 python3 S 1", "4242 (x) S 1 2 3"])
def test_parse_stat_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_stat(text)


def test_parse_stat_of_this_process_matches_the_kernel():
    import os

    stat = read_stat(os.getpid())
    assert stat is not None and stat.pid == os.getpid() and stat.ppid == os.getppid()
    assert stat.session == os.getsid(0) and stat.pgrp == os.getpgrp()


def test_identity_matches_only_the_same_live_process():
    stat = parse_stat(STAT)
    assert Identity(4242, 987654).matches(stat)
    assert not Identity(4242, 987655).matches(stat)  # the pid was reused
    assert not Identity(4243, 987654).matches(stat)
    assert not Identity(4242, 987654).matches(None)
    assert not Identity(4242, 987654).matches(parse_stat(STAT.replace(") S ", ") Z ")))


def test_btime_and_start_epoch():
    assert parse_btime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n") == 1700000000
    assert start_epoch(250, 1700000000, 100) == 1700000002.5
    with pytest.raises(ValueError):
        parse_btime("cpu 1 2 3\n")


def test_split_cmdline():
    assert split_cmdline(b"sleep\x00300\x00/tmp/a b\x00") == ["sleep", "300", "/tmp/a b"]
    assert split_cmdline(b"") == []


def _stat(pid: int, ppid: int, session: int = 1) -> ProcStat:
    return ProcStat(pid, f"p{pid}", "S", ppid, pid, session, pid * 10)


def test_descendants_follow_parent_pids_and_exclude_the_roots():
    table = {p.pid: p for p in (_stat(1, 0), _stat(10, 1), _stat(11, 10), _stat(12, 11),
                                _stat(13, 10), _stat(20, 1), _stat(21, 20))}
    assert descendants([10], table) == {11, 12, 13}
    assert descendants([10, 20], table) == {11, 12, 13, 21}
    assert descendants([99], table) == set()


def test_ancestors_walk_up_to_init():
    table = {p.pid: p for p in (_stat(1, 0), _stat(10, 1), _stat(11, 10), _stat(12, 11))}
    assert ancestors(12, table) == [11, 10, 1]
    assert ancestors(1, table) == []


def test_parse_postmaster_pid():
    text = ("123456\n/tmp/sb/data/pg0\n1700000123\n28130\n/tmp/sb/run\n127.0.0.1\n"
            "  28130001   32769\nready   \n")
    pid_file = parse_postmaster_pid(text)
    assert pid_file.pid == 123456 and pid_file.data_dir == "/tmp/sb/data/pg0"
    assert pid_file.start_time == 1700000123
    assert parse_postmaster_pid("-77\n/d\n").pid == 77  # single-user mode
    assert parse_postmaster_pid("77\n/d\n").start_time is None
    with pytest.raises(ValueError):
        parse_postmaster_pid("garbage\n")


@pytest.mark.parametrize("argv", [
    ["sleep", "300", "/tmp/sb"],
    ["sleep", "300", "/tmp/sb/"],
    ["sleep", "300", "/tmp/sb/run/x"],
    ["etcd", "--data-dir=/tmp/sb/data/etcd"],
    ["sh", "-c", "sleep 300 '/tmp/sb/x'"],
    ["x", "--paths", "/usr/lib:/tmp/sb/lib"],
    ["x", "/tmp//sb/./run"],
    ["x", "file:///tmp/sb/x"],
])
def test_names_path_matches_the_directory_and_paths_inside_it(argv):
    assert names_path(argv, "/tmp/sb")


@pytest.mark.parametrize("argv", [
    ["sleep", "300", "/tmp/sb-other/x"],
    ["sleep", "300", "/tmp/sbx"],
    ["sleep", "300", "/other/tmp/sb/x"],
    ["sleep", "300", "tmp/sb/x"],  # relative: depends on the cwd, not reported
    ["x", "--data-dir=/tmp/sb.bak"],
    ["x", "/tmp/sb/../sb-other/x"],
    [],
])
def test_names_path_is_not_a_substring_match(argv):
    assert not names_path(argv, "/tmp/sb")


def test_names_path_wants_an_absolute_directory():
    with pytest.raises(ValueError):
        names_path(["/x"], "tmp/sb")
    assert names_path(["/tmp/sb/x"], "/tmp/sb/")


def test_signal_identity_refuses_a_reused_pid_and_signals_the_recorded_process():
    child = subprocess.Popen(["sleep", "60"])
    try:
        stat = read_stat(child.pid)
        assert stat is not None
        impostor = Identity(child.pid, stat.start_ticks + 1)  # same pid, another start
        assert not signal_identity(impostor, signal.SIGKILL)
        assert child.poll() is None
        assert signal_identity(stat.identity, signal.SIGKILL)
        assert child.wait(timeout=5) == -signal.SIGKILL
        assert not signal_identity(stat.identity, signal.SIGKILL)  # gone
    finally:
        child.kill()
        child.wait()

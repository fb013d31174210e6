"""The stress hog records its identity; it is found and stopped by it, never by its
command line (a real hog process, no sandbox needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from chaosgate.clients.processes import (
    identify,
    read_identity_file,
    read_stat,
    signal_identity,
    write_identity_file,
)
from chaosgate.platforms.hog import find_hogs, hog_command


def _wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"{path} was not written"


def test_a_hog_and_its_workers_are_found_by_the_identity_it_wrote(tmp_path: Path) -> None:
    pidfile = tmp_path / "hogs" / "cg-0000000001.json"
    cmd = hog_command(pidfile, 60, cpu=2, core=0)
    assert "--marker" not in cmd
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        _wait_for(pidfile)
        deadline = time.monotonic() + 20
        while len(found := find_hogs(pidfile)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # the hog, then its two forked workers
        assert {i.pid for i in found} >= {proc.pid}
        assert len(found) == 3
        # the workers first: a SIGKILLed hog takes its workers with it (their death
        # signal), so signalling one of them after the hog could find it gone already
        for identity in sorted(found, key=lambda i: i.pid == proc.pid):
            assert signal_identity(identity, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while find_hogs(pidfile) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert find_hogs(pidfile) == []  # a SIGKILLed hog's stale file names nobody
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_a_hog_that_ends_removes_its_pid_file(tmp_path: Path) -> None:
    pidfile = tmp_path / "hog.json"
    proc = subprocess.run(hog_command(pidfile, 0), timeout=60)
    assert proc.returncode == 0
    assert not pidfile.exists()


def test_identity_files_are_trusted_only_for_the_same_live_process(tmp_path: Path) -> None:
    path = tmp_path / "me.json"
    me = write_identity_file(path)
    assert me == identify(__import__("os").getpid())
    assert read_identity_file(path) == me
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "start_ticks": doc["start_ticks"] + 1}))
    assert read_identity_file(path) is None  # a reused pid is someone else
    path.write_text(json.dumps({**doc, "boot_id": "another-boot"}))
    assert read_identity_file(path) is None
    path.write_text("not json")
    assert read_identity_file(path) is None
    assert read_identity_file(tmp_path / "missing.json") is None


def test_the_watchdog_thaws_only_the_process_it_was_given(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        identity = identify(sleeper.pid)
        assert identity is not None
        assert signal_identity(identity, signal.SIGSTOP)
        subprocess.run(hog_command(tmp_path / "w.json", 1, cont=(identity,)), timeout=60,
                       check=True)
        deadline = time.monotonic() + 10
        while (Path(f"/proc/{sleeper.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
               == "T") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Path(f"/proc/{sleeper.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T"
    finally:
        sleeper.kill()
        sleeper.wait(timeout=10)


# A parent that starts a hog the way a stress fault does (spawn, the hog arming its own
# death signal with --parent), then waits to be killed.
HOG_PARENT = """
import subprocess, sys, time
from pathlib import Path
from chaosgate.clients.children import ChildRegistry, spawn
from chaosgate.clients.processes import Identity
from chaosgate.platforms.hog import hog_command
import os
pidfile, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "freeze":
    cont = (Identity(int(sys.argv[3]), int(sys.argv[4])),)
    cmd = hog_command(pidfile, 600, cont=cont, parent=os.getpid())
else:
    cmd = hog_command(pidfile, 600, cpu=2, core=0, parent=os.getpid())
proc = spawn(cmd, role="stress hog", death_signal=None, start_new_session=True,
             registry=ChildRegistry(pidfile.parent / "children"))
print(proc.pid, flush=True)
time.sleep(600)
"""


def _state(pid: int) -> str | None:
    stat = read_stat(pid)
    return None if stat is None or not stat.alive else stat.state


def _eventually(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_freeze_watchdog_thaws_its_pod_at_once_when_its_parent_is_killed(tmp_path):
    pod = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    parent = None
    try:
        me = identify(pod.pid)
        assert me is not None
        os.kill(pod.pid, signal.SIGSTOP)
        _eventually(lambda: _state(pod.pid) == "T", "the pod to stop")
        pidfile = tmp_path / "hogs" / "cg-1.json"
        parent = subprocess.Popen([sys.executable, "-c", HOG_PARENT, str(pidfile), "freeze",
                                   str(me.pid), str(me.start_ticks)],
                                  stdout=subprocess.PIPE, text=True)
        assert parent.stdout is not None
        hog = int(parent.stdout.readline())
        _wait_for(pidfile)
        assert _state(pod.pid) == "T", "the watchdog thawed the pod while its parent lived"
        parent.kill()
        parent.wait(timeout=10)
        _eventually(lambda: _state(pod.pid) not in ("T", None), "the pod to thaw")
        _eventually(lambda: _state(hog) is None, "the watchdog to end")
    finally:
        if parent is not None:
            parent.kill()
            parent.wait(timeout=10)
        os.kill(pod.pid, signal.SIGKILL)
        pod.wait(timeout=10)


def test_a_cpu_hog_and_its_workers_die_with_their_parent(tmp_path):
    pidfile = tmp_path / "hogs" / "cg-2.json"
    parent = subprocess.Popen([sys.executable, "-c", HOG_PARENT, str(pidfile), "cpu"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        int(parent.stdout.readline())
        _wait_for(pidfile)
        _eventually(lambda: len(find_hogs(pidfile)) == 3, "the hog and its two workers")
        found = find_hogs(pidfile)
        parent.kill()
        parent.wait(timeout=10)
        _eventually(lambda: all(_state(i.pid) is None for i in found),
                    "the hog and its workers to die with their parent")
    finally:
        parent.kill()
        parent.wait(timeout=10)
        for identity in find_hogs(pidfile):
            signal_identity(identity, signal.SIGKILL)


def test_a_hog_whose_parent_is_already_gone_does_not_run(tmp_path):
    # --parent names a process that is not its parent: as if that parent had just died
    pidfile = tmp_path / "hog.json"
    cmd = hog_command(pidfile, 600, cpu=1, core=0, parent=2**22 + 11)
    proc = subprocess.run(cmd, timeout=60)
    assert proc.returncode == 0 and not pidfile.exists()

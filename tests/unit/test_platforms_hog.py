"""The stress hog records its identity; it is found and stopped by it, never by its
command line (a real hog process, no sandbox needed)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from chaosgate.clients.processes import (
    identify,
    read_identity_file,
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
        for identity in found:
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

"""SIGINT/SIGTERM and the ``chaosgate`` command: 130/143, one line, never a traceback.

- during start-up (imports): a loop of real ``python -m chaosgate.cli validate``
  runs, each signalled a random delay after chaosgate's guard is armed (before
  it, the interpreter's own start-up owns SIGINT: see ``_startup.catches``);
- inside a command (``slo check`` waiting on a Prometheus that never answers):
  exit 130/143 with "no verdict (inconclusive)", never click's "Aborted!" (1);
- a ``KeyboardInterrupt`` raised by a command is 130 too.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from chaosgate.cli._app import ChaosgateGroup
from chaosgate.cli._startup import catches, is_chaosgate_program

ROOT = Path(__file__).resolve().parents[2]
TARGET = str(ROOT / "targets" / "sandbox.yaml")
PROBES = str(ROOT / "probes")
RUNS = 20


def chaosgate(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen([sys.executable, "-m", "chaosgate.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_catches_reads_the_handlers_a_process_installed() -> None:
    assert catches(os.getpid(), signal.SIGINT)  # the interpreter's default_int_handler
    old = signal.signal(signal.SIGUSR2, lambda *_: None)
    try:
        assert catches(os.getpid(), signal.SIGUSR2)
    finally:
        signal.signal(signal.SIGUSR2, old)
    assert not catches(os.getpid(), signal.SIGUSR2)
    assert not catches(2**22 + 1, signal.SIGTERM)  # no such process


def test_the_program_is_recognised_and_a_host_is_not() -> None:
    assert is_chaosgate_program("/venv/bin/chaosgate", ["/venv/bin/python", "/venv/bin/chaosgate"])
    assert is_chaosgate_program("-m", ["python", "-X", "dev", "-m", "chaosgate.cli", "validate"])
    assert not is_chaosgate_program("-m", ["python", "-m", "pytest", "tests"])
    assert not is_chaosgate_program("/venv/bin/pytest", ["/venv/bin/python", "/venv/bin/pytest"])
    assert not is_chaosgate_program("/venv/bin/chaos", ["/venv/bin/python", "/venv/bin/chaos"])


def test_signals_while_starting_exit_130_or_143_without_a_traceback() -> None:
    rng = random.Random(15)
    finished = signalled = 0
    for k in range(RUNS):
        sig = (signal.SIGINT, signal.SIGTERM)[k % 2]
        proc = chaosgate("validate", TARGET)
        delay = rng.uniform(0.0, 0.5)
        while proc.poll() is None and not catches(proc.pid, signal.SIGTERM):
            time.sleep(0.001)  # the interpreter's own start-up: not chaosgate's to handle
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        text = err.decode(errors="replace")
        assert "Traceback" not in text, text
        assert proc.returncode in (0, 128 + sig, -sig), (proc.returncode, text)
        if proc.returncode == 128 + sig:
            signalled += 1
            assert f"interrupted by {sig.name}" in text
        finished += proc.returncode == 0
    assert signalled > 0  # the loop did hit the start-up window


@pytest.fixture
def silent_prometheus(tmp_path: Path) -> tuple[socket.socket, Path]:
    """A target whose Prometheus accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    target = tmp_path / "target.yaml"
    target.write_text(f"""\
apiVersion: chaosgate/v1
kind: Target
name: silent
platform: {{type: kubernetes}}
prometheus: {{url: "http://127.0.0.1:{port}", scrape_interval: 15s}}
ingress: {{url: "http://127.0.0.1:9"}}
services: {{shop: {{selector: app=shop}}}}
""")
    return server, target


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_inside_a_command_is_inconclusive_130_or_143(
        silent_prometheus: tuple[socket.socket, Path], sig: signal.Signals) -> None:
    server, target = silent_prometheus
    server.settimeout(60)
    proc = chaosgate("slo", "check", "--target", str(target), "--catalog", PROBES)
    try:
        conn, _ = server.accept()  # the command is past start-up, waiting on Prometheus
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        conn.close()
    finally:
        server.close()
        if proc.poll() is None:
            proc.kill()
    text = err.decode(errors="replace")
    assert proc.returncode == 128 + sig, text
    assert f"interrupted by {sig.name}" in text and "inconclusive" in text
    assert "Traceback" not in text and "Aborted" not in text


def test_a_keyboard_interrupt_in_a_command_exits_130_not_aborted() -> None:
    @click.group(cls=ChaosgateGroup)
    def group() -> None:
        """A group like chaosgate's app."""

    @group.command()
    def stop() -> None:
        raise KeyboardInterrupt

    result = CliRunner().invoke(group, ["stop"])
    assert result.exit_code == 130
    assert "interrupted by SIGINT" in result.output and "Aborted" not in result.output

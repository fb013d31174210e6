"""Every command that needs a target refuses a missing ``--target`` with click's usage
error (exit 2), never a traceback (click 8.3+ counts an explicit ``default=None`` as a
value, which once let ``None`` through to ``load_target``)."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from chaosgate.cli import app


def _needing_target(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _needing_target(command, (*prefix, name))
        elif any(p.name == "target_file" and isinstance(p, click.Option) and p.required
                 for p in command.params):
            yield (*prefix, name), command


COMMANDS = list(_needing_target(app))


def test_the_commands_that_need_a_target_are_found() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"cleanup", "timeline", "load run", "slo check", "fault partition"} <= names


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=" ".join)
def test_a_missing_target_is_a_usage_error(path: tuple[str, ...]) -> None:
    command = dict(COMMANDS)[path]
    # every other required option given, so that --target is what is missing
    args = [*path]
    for p in command.params:
        if isinstance(p, click.Option) and p.required and p.name != "target_file":
            choice = p.type.choices[0] if isinstance(p.type, click.Choice) else "1"
            args += [p.opts[0], str(choice)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Missing option '--target'" in result.output

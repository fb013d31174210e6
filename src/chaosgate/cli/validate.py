"""``chaosgate validate FILE``: check a target file without touching the system it names."""

from __future__ import annotations

import click

from ._common import console

__all__ = ["validate"]


@click.command("validate")
@click.argument("target_file", type=click.Path(dir_okay=False))
def validate(target_file: str) -> None:
    """Check a target file; exit 2 with the field and the fix when it is wrong."""
    from ..targets import load_target

    target = load_target(target_file)
    console.print(f"{target_file}: valid target {target.name!r} ({target.platform.type})")

"""The report package's only file-writing primitive."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path | str, data: bytes | str) -> Path:
    """Write ``data`` to a temporary sibling and rename it over ``path``.

    Readers (a browser, ``allure watch``, CI) never see half a file; parents
    are created. Text is written as UTF-8.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    os.replace(tmp, target)
    return target

"""``python -m chaosgate.cli``: the ``chaosgate`` command."""

from __future__ import annotations

import os

from . import main

os.environ.setdefault("PYTHONUNBUFFERED", "1")
raise SystemExit(main())

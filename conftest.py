"""Root conftest: thin. Data folders are not test modules."""

from __future__ import annotations

collect_ignore = ["experiments", "probes", "loadprofiles", "targets", "reports", "deploy",
                  "node_modules", ".chaosgate", "bench"]

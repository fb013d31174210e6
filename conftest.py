"""Root conftest: thin. Data folders are not test modules.

It loads tests/k8s/kubeplane.py, the plugin that starts the session's real
Kubernetes control plane and names it in the report header (a plugin, not
tests/k8s/conftest.py, because only root-level hooks run before the header).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent / "tests" / "k8s"))

pytest_plugins = ["kubeplane"]

collect_ignore = ["experiments", "probes", "loadprofiles", "targets", "reports", "deploy",
                  "node_modules", ".chaosgate", "bench"]

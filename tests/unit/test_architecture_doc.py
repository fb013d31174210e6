"""docs/architecture.md stays true: its module map names every module, and nothing that
is not there; no project file points users at a design file they do not have."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "chaosgate"
# Sub-packages that are programs of their own, listed as one line each.
WHOLE = ("sandbox/faultproxy/", "sandbox/pipeline/", "sandbox/shop/")


def _map_entries() -> list[str]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## 11. Module map", 1)[1]
    block = section.split("```", 2)[1]
    return [line.split()[0] for line in block.splitlines()[2:] if line.strip()]


def _modules() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        whole = next((w for w in WHOLE if rel.startswith(w)), None)
        found.add(whole or rel)
    return found


def test_the_module_map_matches_the_tree() -> None:
    listed = _map_entries()
    assert len(listed) == len(set(listed)), "a module is listed twice"
    missing = _modules() - set(listed)
    extra = set(listed) - _modules()
    assert not missing, f"modules not in docs/architecture.md's map: {sorted(missing)}"
    assert not extra, f"docs/architecture.md lists modules that do not exist: {sorted(extra)}"


def test_nothing_points_outside_the_repository() -> None:
    outside = re.compile(r"\.\./shared|shared/DESIGN|DESIGN\.md")
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted(PACKAGE.rglob("*.py")), *sorted((ROOT / "bench").glob("*.py"))]
    hits = [f"{f.relative_to(ROOT)}:{n}" for f in files
            for n, line in enumerate(f.read_text().splitlines(), 1) if outside.search(line)]
    assert not hits, f"these lines point at a design file users do not have: {hits}"

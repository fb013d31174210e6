"""Nothing outside the sandbox's own package knows the shop: its apps, pods, links, metrics
or tables (issue 9's acceptance: ``grep -rnE "gateway|catalog|orders" src/chaosgate``).

The SLO *catalogue* (``--catalog``, ``slo/catalog.py``, a ``catalog`` variable) is not
a shop name and stays; the shop's catalog service shows as ``app=catalog``,
``catalog-0``, ``gateway-catalog`` and the like, which are refused.
"""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "chaosgate"
SANDBOX = SRC / "sandbox"

#: Shop names wherever they appear (a word or part of one, as grep finds them).
SHOP = re.compile(r"gateway|orders|\bshop_[a-z_]+")
#: The shop's catalog service, never the SLO catalogue.
CATALOG_SERVICE = re.compile(
    r"app\s*(?:==?|!=)\s*catalog\b|\bin\s*\([^)]*\bcatalog\b|\bcatalog-\w|\b(?!chaos-)\w+-catalog\b"
    r"|\bcatalog\s+(?:service|pod|replica)s?\b")


def _offending_lines() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*")):
        # grep -r does not follow the symlinks under data/ (the shop's own files)
        if not path.is_file() or path.is_symlink() or SANDBOX in path.parents \
                or path.suffix == ".pyc" \
                or any((SRC / part).is_symlink() for part in _prefixes(path.relative_to(SRC))):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if SHOP.search(line) or CATALOG_SERVICE.search(line):
                found.append(f"{path.relative_to(SRC.parent)}:{number}: {line.strip()}")
    return found


def _prefixes(relative: Path) -> list[Path]:
    """``a``, ``a/b`` for ``a/b/c``: the folders a file lies in, below ``SRC``."""
    parts = relative.parts[:-1]
    return [Path(*parts[:i]) for i in range(1, len(parts) + 1)]


def test_only_the_sandbox_package_names_the_shop() -> None:
    offending = _offending_lines()
    assert not offending, ("shop names outside src/chaosgate/sandbox/ (use neutral names in "
                           "examples: app=api, app=worker, link api-db; move shop data into "
                           "the sandbox package or the shop's scenarios):\n"
                           + "\n".join(offending))


def test_the_check_finds_what_it_must() -> None:
    """The patterns catch the shop's names and leave the SLO catalogue alone."""
    for shop in ("selector: app=orders", "app=catalog", "catalog-0", "gateway-catalog",
                 "app in (api,catalog)", "shop_circuit_breaker_state", "the catalog service"):
        assert SHOP.search(shop) or CATALOG_SERVICE.search(shop), shop
    for fine in ("--catalog PATH", "load_catalog(path)", "the SLO catalogue", "slo/catalog.py",
                 "catalog=Path(catalog)", "timeline_slos(slo, catalog)", "--chaos-catalog"):
        assert not (SHOP.search(fine) or CATALOG_SERVICE.search(fine)), fine

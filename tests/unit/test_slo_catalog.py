"""The SLO catalogue: validation errors name file, line, field and fix; templates render."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaosgate.exceptions import EXIT_USAGE
from chaosgate.slo.catalog import (
    CatalogError,
    derive_series,
    load_catalog,
    parse_catalog,
    prom_duration,
    render,
)

GOOD = """\
apiVersion: chaosgate/v1
kind: SLOCatalog
slos:
  - name: availability
    type: availability
    objective: 0.9999
    window: 10m
    query:
      bad: sum(increase(errors_total{code="5xx"}[$window]))
      total: sum(increase(requests_total[$window]))
  - name: fast
    type: latency
    route: /api/x
    percentile: 99
    threshold: 0.25
    window: 5m
    query:
      good: sum(increase(d_bucket{le="0.25"}[$window]))
      total: sum(increase(d_count[${window}]))
  - name: errors
    type: error_ratio
    objective: 0.001
    window: 1h
    query:
      bad: sum by (route) (increase(errors_total[$window]))
      total: sum(rate(requests_total[$window])) * 60
  - name: ttr
    type: recovery
    objective: 30s
"""


def write(tmp_path: Path, text: str, name: str = "slos.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, old: str, new: str) -> CatalogError:
    assert old in GOOD
    with pytest.raises(CatalogError) as info:
        load_catalog(write(tmp_path, GOOD.replace(old, new, 1)))
    assert info.value.exit_code == EXIT_USAGE
    return info.value


def test_a_valid_catalogue(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, GOOD))
    assert catalog.names() == ["availability", "fast", "errors", "ttr"]
    fast = catalog.get("fast")
    assert (fast.objective, fast.threshold, fast.window, fast.route) == (0.99, 0.25, 300, "/api/x")
    assert catalog.get("errors").objective == 0.999  # stored as the minimum good ratio
    assert catalog.get("ttr").of == ("availability",)  # default: every availability SLO
    assert catalog.get("ttr").hold_down == 10.0
    assert catalog.get("availability").source.endswith("slos.yaml:4")
    assert fast.promql(90) == {"good": 'sum(increase(d_bucket{le="0.25"}[90s]))',
                               "total": "sum(increase(d_count[90s]))"}


def test_raw_series_are_derived_from_increase_queries(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, GOOD))
    assert catalog.get("availability").series == {"bad": 'errors_total{code="5xx"}',
                                                  "total": "requests_total"}
    assert catalog.get("errors").series == {}  # a rate() total: not a plain counter read


@pytest.mark.parametrize(("old", "new", "field", "words"), [
    ("type: latency", "type: latncy", "slos[1].type", "did you mean 'latency'"),
    ("objective: 0.9999", "objective: 99.99", "slos[0].objective", "write 0.9999"),
    ("[${window}]", "[5m]", "slos[1].query.total", "does not use $window"),
    ('le="0.25"', 'le="0.3"', "slos[1].query.good", 'le="0.25"'),
    ("[$window]))\n      total: sum(increase(requests", "[$windw]))\n      total: sum("
     "increase(requests", "slos[0].query.bad", "did you mean 'window'"),
    ("    window: 5m\n", "    window: 5 minutes\n", "slos[1].window", "duration"),
    ("    window: 5m\n", "    window: 99999999999999d\n", "slos[1].window", "400 days"),
    ("    window: 5m\n", "    window: 401d\n", "slos[1].window", "from 1ms to 400d"),
    ("  - name: ttr", "  - name: availability", "name", "defined twice"),
    ("objective: 30s", "objective: 30s\n    of: [fats]", "of", "did you mean 'fast'"),
    ("    route: /api/x\n", "", "slos[1].route", "required key is missing"),
    ("percentile: 99", "percentile: 99\n    objective: 0.99", "slos[1].objective", "not both"),
    ("    window: 1h\n", "    window: 1h\n    hold_down: 5s\n", "slos[2].hold_down",
     "for an SLO of type error_ratio"),
    ("      total: sum(increase(requests_total[$window]))\n", "", "slos[0].query",
     "needs `total` and exactly one of"),
])
def test_errors_name_the_field_and_the_fix(tmp_path: Path, old: str, new: str, field: str,
                                           words: str) -> None:
    err = error_of(tmp_path, old, new)
    assert err.field == field
    assert words in str(err)
    assert "Fix:" in str(err)
    assert str(tmp_path / "slos.yaml") in str(err)


def test_errors_carry_the_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, "type: latency", "type: nope")
    assert f"{tmp_path / 'slos.yaml'}:12: slos[1].type" in str(err)


def test_unknown_key_and_bad_header(tmp_path: Path) -> None:
    err = error_of(tmp_path, "    window: 10m\n", "    windwo: 10m\n")
    assert err.field == "slos[0].windwo" and "did you mean 'window'" in str(err)
    err = error_of(tmp_path, "kind: SLOCatalog", "kind: Target")
    assert err.field == "kind"


def test_folder_and_missing_paths(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "a.yaml")
    assert len(load_catalog(tmp_path).slos) == 4
    with pytest.raises(CatalogError, match="no such file"):
        load_catalog(tmp_path / "nope")
    with pytest.raises(CatalogError, match=r"no SLO named 'fats'.*did you mean 'fast'"):
        load_catalog(tmp_path).select(["fats"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CatalogError, match=r"no \*\.yaml"):
        load_catalog(empty)


def test_parse_is_pure_and_checks_the_slo_list() -> None:
    with pytest.raises(CatalogError) as info:
        parse_catalog({"apiVersion": "chaosgate/v1", "kind": "SLOCatalog", "slos": []})
    assert info.value.field == "slos"


def test_prom_duration_and_render() -> None:
    assert [prom_duration(s) for s in (600, 90, 1.5, 3600)] == ["10m", "90s", "1500ms", "60m"]
    assert render('x{a=~"^b$"}[$window] / y[${window}]', 30) == 'x{a=~"^b$"}[30s] / y[30s]'
    with pytest.raises(ValueError):
        prom_duration(0)


@given(st.integers(1, 10**7))
def test_prom_duration_round_trips_whole_milliseconds(ms: int) -> None:
    text = prom_duration(ms / 1000)
    unit = {"m": 60_000, "s": 1000}
    value = int(text[:-2]) if text.endswith("ms") else int(text[:-1]) * unit[text[-1]]
    assert value == ms


def test_derive_series_needs_every_query_in_canonical_form() -> None:
    assert derive_series({"bad": "sum(increase(a{x='1'}[$window]))",
                          "total": "sum without (pod) (increase(b[$window]))"}) == {
        "bad": "a{x='1'}", "total": "b"}
    assert derive_series({"bad": "sum(increase(a[$window]))",
                          "total": "sum(rate(b[$window]))"}) == {}

"""SLO statistics: Clopper-Pearson against exact binomial sums and published values,
exact percentiles, burn rates, bootstrap MTTR."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaosgate.slo.stats import (
    beta_cdf,
    beta_ppf,
    bootstrap_ci,
    budget_consumed,
    burn_rate,
    clopper_pearson,
    meets,
    multiwindow_burn,
    percentile,
    requests_needed,
    summarize_ttr,
)


def binom_tail_at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly term by term."""
    return math.fsum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


# Two-sided 95 % intervals (each bound one-sided at 97.5 %), as published by
# R's binom.test and in Clopper & Pearson's tables.
@pytest.mark.parametrize(("k", "n", "lower", "upper"), [
    (5, 10, 0.187086, 0.812914),
    (0, 10, 0.0, 0.308497),
    (10, 10, 0.691503, 1.0),
    (99, 100, 0.945540, 0.999747),
    (1, 20, 0.001265, 0.248733),
])
def test_known_values(k: int, n: int, lower: float, upper: float) -> None:
    lo, hi = clopper_pearson(k, n, confidence=0.975)
    assert lo == pytest.approx(lower, abs=2e-6)
    assert hi == pytest.approx(upper, abs=2e-6)


def test_closed_forms_at_the_edges() -> None:
    for n in (1, 7, 100, 29_956):
        assert clopper_pearson(n, n, 0.95)[0] == pytest.approx(0.05 ** (1 / n), rel=1e-12)
        assert clopper_pearson(0, n, 0.95)[1] == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-9)


@pytest.mark.parametrize(("k", "n"), [(1, 5), (3, 7), (40, 50), (97, 120), (150, 151)])
def test_bounds_solve_the_binomial_tail_equations(k: int, n: int) -> None:
    lo, hi = clopper_pearson(k, n, 0.95)
    assert binom_tail_at_least(k, n, lo) == pytest.approx(0.05, abs=1e-9)
    assert 1 - binom_tail_at_least(k + 1, n, hi) == pytest.approx(0.05, abs=1e-9)


def test_requests_needed_for_the_objectives() -> None:
    assert requests_needed(0.9999) == 29_956  # "~30 000 requests with no failure"
    assert requests_needed(0.999) == 2_995
    assert requests_needed(0.95) == 59
    n = requests_needed(0.9999)
    assert clopper_pearson(n, n)[0] >= 0.9999 > clopper_pearson(n - 1, n - 1)[0]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 5_000), data=st.data(), confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_bounds_contain_the_point_estimate(n: int, data: st.DataObject,
                                          confidence: float) -> None:
    k = data.draw(st.integers(0, n))
    lo, hi = clopper_pearson(k, n, confidence)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 3_000), bad=st.integers(0, 20), step=st.integers(1, 500))
def test_more_good_events_never_lower_the_lower_bound(n: int, bad: int, step: int) -> None:
    bad = min(bad, n)
    assert clopper_pearson(n + step - bad, n + step)[0] >= clopper_pearson(n - bad, n)[0]


@settings(max_examples=100, deadline=None)
@given(good=st.integers(0, 2_000), n=st.integers(1, 2_000), step=st.integers(1, 500))
def test_more_bad_events_never_raise_the_upper_bound(good: int, n: int, step: int) -> None:
    good = min(good, n)
    assert clopper_pearson(good, n + step)[1] <= clopper_pearson(good, n)[1]


def test_beta_functions() -> None:
    assert beta_cdf(0.3, 4.0, 1.0) == pytest.approx(0.3**4)
    assert beta_cdf(0.3, 1.0, 3.0) == pytest.approx(1 - 0.7**3)
    assert beta_cdf(0.4, 2.5, 7.0) == pytest.approx(1 - beta_cdf(0.6, 7.0, 2.5))
    for q in (0.01, 0.5, 0.975):
        assert beta_cdf(beta_ppf(q, 3.0, 8.0), 3.0, 8.0) == pytest.approx(q, abs=1e-12)


def test_meets_compares_exactly() -> None:
    assert meets(9_999, 10_000, 0.9999)  # 1 - 0.9999 is not 0.0001 in binary floats
    assert not meets(9_998, 10_000, 0.9999)
    assert meets(95, 100, 0.95) and not meets(94, 100, 0.95)


def test_percentile_is_an_observed_value_without_float_traps() -> None:
    values = list(range(1, 1001))
    assert percentile(values, 99.9) == 999  # 99.9 / 100 * 1000 is 999.0000000000001 in floats
    assert percentile(values, 100) == 1000
    assert percentile(list(range(1, 21)), 95) == 19
    assert percentile([3.5], 50) == 3.5
    assert percentile([0.0105, 0.0101, 0.0109], 50) == 0.0105  # no 2-digit rounding


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.integers(0, 1000), min_size=1, max_size=300),
       p=st.sampled_from([50, 90, 95, 99, 99.9]), threshold=st.integers(0, 1000))
def test_percentile_under_threshold_iff_fraction_under_threshold(
        values: list[int], p: float, threshold: int) -> None:
    """The client-side gate agrees exactly with the server-side bucket fraction."""
    share = Fraction(sum(1 for v in values if v <= threshold), len(values))
    assert (percentile(values, p) <= threshold) == (share >= Fraction(str(p)) / 100)


def test_burn_rate_and_budget() -> None:
    assert burn_rate(10, 1_000, 0.999) == pytest.approx(10.0)
    assert budget_consumed(1, 5_000, 0.9999) == pytest.approx(2.0)
    assert burn_rate(0, 0, 0.999) == 0.0
    page = multiwindow_burn((150, 10_000), (20, 800), 0.999)
    assert page.long == pytest.approx(15.0) and page.short == pytest.approx(25.0)
    assert page.firing
    assert not multiwindow_burn((150, 10_000), (0, 800), 0.999).firing  # already over


def test_mttr_bootstrap_is_seeded_and_brackets_the_estimates() -> None:
    ttrs = [10.1, 10.3, 9.8, 10.0, 12.0, 10.2]
    a, b = summarize_ttr(ttrs, seed=7), summarize_ttr(ttrs, seed=7)
    assert a == b
    assert a.mean == pytest.approx(statistics.fmean(ttrs))
    assert a.median == pytest.approx(10.15)
    assert a.mean_ci[0] <= a.mean <= a.mean_ci[1]
    assert a.median_ci[0] <= a.median <= a.median_ci[1]
    assert min(ttrs) <= a.mean_ci[0] and a.mean_ci[1] <= max(ttrs)
    assert bootstrap_ci([5.0], statistics.median) == (5.0, 5.0)
    with pytest.raises(ValueError):
        summarize_ttr([])

"""SLO statistics on plain numbers: no I/O, no third-party code.

- :func:`clopper_pearson`: the exact binomial confidence bounds of a good
  ratio (each bound one-sided at ``confidence``). An objective *passes* only
  when the lower bound clears it: 29 956 requests without a failure are
  needed to show 99.99 % at 95 % (:func:`requests_needed`).
- :func:`meets`: exact (decimal, not binary float) comparison of
  ``good/total`` with an objective such as 0.9999.
- :func:`percentile`: the exact nearest-rank percentile (an observed value,
  no interpolation, no rounding), so ``p95 <= T`` holds exactly when
  at least 95 % of the values are ``<= T``.
- :func:`burn_rate`, :func:`budget_consumed`, :func:`multiwindow_burn`:
  error-budget arithmetic of the SRE workbook.
- :func:`summarize_ttr`: MTTR over repetitions, mean and median with seeded
  bootstrap confidence intervals.
- :func:`student_t_ppf`, :func:`mean_bounds`: the Student-t interval of a
  mean (mean-latency SLOs, client side).
- :func:`gamma_cdf`, :func:`gamma_ppf`, :func:`poisson_bounds`: the exact
  (Garwood) interval of a Poisson count (throughput SLOs).
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "MIN_MEAN_SAMPLES",
    "BurnRate",
    "TTRSummary",
    "beta_cdf",
    "beta_ppf",
    "bootstrap_ci",
    "budget_consumed",
    "burn_rate",
    "clopper_pearson",
    "exact",
    "gamma_cdf",
    "gamma_ppf",
    "mean_bounds",
    "meets",
    "multiwindow_burn",
    "percentile",
    "percentile_sorted",
    "poisson_bounds",
    "requests_needed",
    "student_t_ppf",
    "summarize_ttr",
]

_EPS = 1e-15
_TINY = 1e-300


def exact(x: float) -> Fraction:
    """The decimal a float was written as (``0.9999`` -> 9999/10000), exactly."""
    return Fraction(repr(float(x)))


def meets(good: int, total: int, objective: float) -> bool:
    """Whether ``good/total >= objective``, in exact arithmetic (``total > 0``)."""
    if total <= 0:
        raise ValueError("meets() needs at least one event")
    return Fraction(good, total) >= exact(objective)


def _nonzero(x: float) -> float:
    return x if abs(x) > _TINY else _TINY


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / _nonzero(d)
    h = d
    for m in range(1, 200_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / _nonzero(d)
        c = _nonzero(1.0 + aa / c)
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / _nonzero(d)
        c = _nonzero(1.0 + aa / c)
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for a, b > 0."""
    if a <= 0 or b <= 0:
        raise ValueError("beta_cdf needs a > 0 and b > 0")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_cf(a, b, x) / a
    return 1.0 - front * _beta_cf(b, a, 1.0 - x) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """The ``q`` quantile of Beta(a, b): the x with I_x(a, b) = q (bisection)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError("beta_ppf needs 0 <= q <= 1")
    if b == 1.0:  # I_x(a, 1) = x**a: closed form, exact to the last bit
        return float(q ** (1.0 / a))
    if a == 1.0:  # I_x(1, b) = 1 - (1-x)**b
        return -math.expm1(math.log1p(-q) / b) if q < 1.0 else 1.0
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if beta_cdf(mid, a, b) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= _EPS * max(hi, 1e-300):
            break
    return (lo + hi) / 2.0


def clopper_pearson(good: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) bounds of the true good ratio after ``good`` of ``total``.

    Each bound is one-sided at ``confidence``: the true ratio is at least the
    lower bound with probability ``confidence`` (together the bounds form a
    two-sided interval at ``2*confidence - 1``). ``(0, 1)`` when ``total`` is 0.
    """
    if not 0 <= good <= total:
        raise ValueError(f"need 0 <= good <= total, got {good}/{total}")
    if not 0.5 <= confidence < 1.0:
        raise ValueError("confidence must be in [0.5, 1)")
    if total == 0:
        return 0.0, 1.0
    alpha = 1.0 - confidence
    lower = 0.0 if good == 0 else beta_ppf(alpha, good, total - good + 1)
    upper = 1.0 if good == total else beta_ppf(confidence, good + 1, total - good)
    return lower, upper


def requests_needed(objective: float, confidence: float = 0.95) -> int:
    """Requests without a single failure needed before the lower bound clears ``objective``."""
    if not 0.0 < objective < 1.0:
        raise ValueError("objective must be in (0, 1)")
    n = math.ceil(math.log(1.0 - confidence) / math.log(objective))
    while clopper_pearson(n, n, confidence)[0] < objective:  # guard float edge cases
        n += 1
    return n


def percentile(values: Sequence[float], p: float) -> float:
    """The exact nearest-rank ``p``-th percentile: the smallest value with >= p % at or below it.

    No interpolation and no rounding: the result is one of ``values``, and
    ``percentile(v, p) <= t`` exactly when ``count(x <= t) / n >= p / 100``.
    """
    return percentile_sorted(sorted(values), p)


def percentile_sorted(ordered: Sequence[float], p: float) -> float:
    """:func:`percentile` of values already sorted ascending (no copy, no sort)."""
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 < p <= 100:
        raise ValueError("p must be in (0, 100]")
    rank = math.ceil(exact(p) / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def burn_rate(bad: float, total: float, objective: float) -> float:
    """How fast the error budget burns: the bad ratio over the allowed one (1 = on budget)."""
    if total <= 0:
        return 0.0
    return float(Fraction(bad) / Fraction(total) / (1 - exact(objective)))


def budget_consumed(bad: float, total: float, objective: float) -> float:
    """Share of the window's error budget that ``bad`` of ``total`` used (1.0 = all of it).

    Over the SLO's own window this equals :func:`burn_rate`.
    """
    return burn_rate(bad, total, objective)


@dataclass(frozen=True)
class BurnRate:
    """A multiwindow burn-rate check: long and short window rates against a threshold."""

    long: float
    short: float
    threshold: float

    @property
    def firing(self) -> bool:
        """True when both windows burn faster than the threshold (SRE workbook rule)."""
        return self.long > self.threshold and self.short > self.threshold


def multiwindow_burn(long: tuple[float, float], short: tuple[float, float], objective: float,
                     threshold: float = 14.4) -> BurnRate:
    """Burn rates of ``(bad, total)`` over a long and a short window (1/12 of it, usually).

    14.4 is the workbook's page threshold (2 % of a 30-day budget in one hour).
    """
    return BurnRate(burn_rate(*long, objective), burn_rate(*short, objective), threshold)


def bootstrap_ci(values: Sequence[float], statistic: Callable[[Sequence[float]], float],
                 confidence: float = 0.95, resamples: int = 10_000,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``statistic`` (two-sided at ``confidence``), seeded."""
    if not values:
        raise ValueError("bootstrap of no values")
    rng = random.Random(seed)
    n = len(values)
    stats = sorted(statistic([values[rng.randrange(n)] for _ in range(n)])
                   for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0 * 100.0
    return percentile(stats, max(tail, 1e-9)), percentile(stats, 100.0 - tail)


@dataclass(frozen=True)
class TTRSummary:
    """MTTR over repetitions: mean and median with bootstrap intervals."""

    n: int
    mean: float
    median: float
    mean_ci: tuple[float, float]
    median_ci: tuple[float, float]
    confidence: float
    seed: int


def summarize_ttr(ttrs: Sequence[float], confidence: float = 0.95, resamples: int = 10_000,
                  seed: int = 0) -> TTRSummary:
    """Mean and median time to recover over repetitions, each with a seeded bootstrap CI."""
    values = [float(v) for v in ttrs]
    if not values:
        raise ValueError("no repetitions to summarize")
    return TTRSummary(
        n=len(values),
        mean=statistics.fmean(values),
        median=statistics.median(values),
        mean_ci=bootstrap_ci(values, statistics.fmean, confidence, resamples, seed),
        median_ci=bootstrap_ci(values, statistics.median, confidence, resamples, seed),
        confidence=confidence,
        seed=seed,
    )


def student_t_ppf(q: float, dof: float) -> float:
    """The ``q`` quantile of Student's t with ``dof`` degrees of freedom (``0 < q < 1``).

    Through the incomplete beta function: ``P(|T| > t) = I_x(dof/2, 1/2)``
    with ``x = dof / (dof + t**2)``.
    """
    if not 0.0 < q < 1.0:
        raise ValueError("student_t_ppf needs 0 < q < 1")
    if dof <= 0:
        raise ValueError("student_t_ppf needs dof > 0")
    if q == 0.5:
        return 0.0
    tail = 2.0 * min(q, 1.0 - q)
    x = beta_ppf(tail, dof / 2.0, 0.5)
    t = math.sqrt(dof * (1.0 - x) / x) if x > 0 else math.inf
    return t if q > 0.5 else -t


def mean_bounds(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """``(mean, lower, upper)`` of the true mean after ``values`` (at least two).

    Each bound is one-sided at ``confidence`` (Student's t on the sample
    standard deviation): by the central limit theorem it holds for any
    distribution with a finite variance once there are a few dozen values,
    which is why the SLO verdicts ask for :data:`MIN_MEAN_SAMPLES`.
    """
    if len(values) < 2:
        raise ValueError("a mean's interval needs at least two values")
    if not 0.5 <= confidence < 1.0:
        raise ValueError("confidence must be in [0.5, 1)")
    mean = statistics.fmean(values)
    half = student_t_ppf(confidence, len(values) - 1) * statistics.stdev(values) \
        / math.sqrt(len(values))
    return mean, mean - half, mean + half


#: Fewest values a mean's Student-t interval is trusted on (central limit theorem).
MIN_MEAN_SAMPLES = 30


def gamma_cdf(x: float, shape: float) -> float:
    """The regularized lower incomplete gamma function P(shape, x) (unit scale), shape > 0."""
    if shape <= 0:
        raise ValueError("gamma_cdf needs shape > 0")
    if x <= 0.0:
        return 0.0
    log_front = shape * math.log(x) - x - math.lgamma(shape)
    if x < shape + 1.0:  # the series
        term = total = 1.0 / shape
        a = shape
        for _ in range(1_000_000):
            a += 1.0
            term *= x / a
            total += term
            if abs(term) < abs(total) * _EPS:
                return min(1.0, total * math.exp(log_front))
        raise ArithmeticError(f"incomplete gamma did not converge for a={shape}, x={x}")
    b = x + 1.0 - shape  # the continued fraction of Q (modified Lentz)
    c, d = 1.0 / _TINY, 1.0 / _nonzero(b)
    h = d
    for i in range(1, 1_000_000):
        an = -i * (i - shape)
        b += 2.0
        d = 1.0 / _nonzero(an * d + b)
        c = _nonzero(b + an / c)
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return max(0.0, 1.0 - math.exp(log_front) * h)
    raise ArithmeticError(f"incomplete gamma did not converge for a={shape}, x={x}")


def gamma_ppf(q: float, shape: float) -> float:
    """The ``q`` quantile of Gamma(shape, 1): the x with P(shape, x) = q (bisection)."""
    if not 0.0 <= q < 1.0:
        raise ValueError("gamma_ppf needs 0 <= q < 1")
    if q == 0.0:
        return 0.0
    lo, hi = 0.0, shape + 10.0 * math.sqrt(shape) + 40.0
    while gamma_cdf(hi, shape) < q:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if gamma_cdf(mid, shape) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(hi, 1.0):
            break
    return (lo + hi) / 2.0


def poisson_bounds(count: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) bounds of a Poisson mean after observing ``count`` events.

    Each bound is one-sided at ``confidence``: the true mean is at least the
    lower bound with probability ``confidence``. The lower bound of 0 events is 0.
    """
    if count < 0:
        raise ValueError("a count cannot be negative")
    if not 0.5 <= confidence < 1.0:
        raise ValueError("confidence must be in [0.5, 1)")
    lower = 0.0 if count == 0 else gamma_ppf(1.0 - confidence, count)
    return lower, gamma_ppf(confidence, count + 1)

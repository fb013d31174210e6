"""Fault timelines from plain data: impact, detection, recovery with hold-down, TTR >= 0."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chaosgate.load.requestlog import RequestRecord
from chaosgate.slo.counters import Bin, alert_fired, bin_counters, counter_increments
from chaosgate.slo.incidents import Covered, client_incidents
from chaosgate.slo.stats import meets
from chaosgate.slo.timeline import (
    Estimate,
    Timeline,
    client_timeline,
    compare,
    server_timeline,
)


def is_error(r: RequestRecord) -> bool:
    return not r.ok


def log(bad_between: tuple[float, float] | None = (10.0, 20.0), rate: float = 25.0,
        seconds: float = 40.0, ms: float = 5.0, extra_bad: tuple[float, ...] = ()) -> list[
        RequestRecord]:
    """Requests at a constant rate; those starting in ``bad_between`` (and at
    ``extra_bad``) fail with a 502."""
    out = []
    for i in range(int(seconds * rate)):
        t = 1000.0 + i / rate
        down = bad_between is not None and bad_between[0] <= t - 1000 < bad_between[1]
        out.append(RequestRecord(t, ms, "/api/products", "GET", not down,
                                 502 if down else 200, "http_5xx" if down else None))
    for t in extra_bad:
        out.append(RequestRecord(1000 + t, ms, "/api/products", "GET", False, 502, "http_5xx"))
    return out


def test_outage_edges_and_ttr() -> None:
    tl = client_timeline(log(), t_inject=1010.0, judge=is_error, objective=0.9999)
    assert tl.t_impact is not None and tl.t_recover is not None and tl.ttr is not None
    # each edge between the last request before it and the first after it: their middle
    assert tl.t_impact.t == pytest.approx(1009.98)
    assert tl.t_impact.lo == pytest.approx(1009.96 - 0.001)  # back to the previous request
    assert tl.t_recover.t == pytest.approx(1019.98)
    assert tl.ttr.t == pytest.approx(10.0)
    # one request apart on each side, plus the 5 ms a request takes to tell
    assert tl.ttr.lo <= 10.0 <= tl.ttr.hi and tl.ttr.err == pytest.approx(0.047)
    assert tl.t_detect is not None and tl.t_detect.t == pytest.approx(1010.005)
    assert tl.ttr_from_inject is not None and tl.ttr_from_inject.t == pytest.approx(9.98)
    assert (tl.bad, tl.total) == (250, 750)


def test_a_request_in_flight_at_the_injection_is_the_impact() -> None:
    records = [*log(None), RequestRecord(1009.99, 30.0, "/api/products", "GET", False, 502)]
    tl = client_timeline(records, t_inject=1010.0, judge=is_error, objective=0.9999,
                         hold_down=5)
    # the middle between it and the good request before it, not clamped to t_inject
    assert tl.t_impact is not None and tl.t_impact.t == pytest.approx((1009.96 + 1009.99) / 2)


def test_errors_over_before_the_injection_are_not_impact() -> None:
    tl = client_timeline(log((5.0, 6.0)), t_inject=1010.0, judge=is_error, objective=0.9999)
    assert tl.t_impact is None and tl.ttr is None and tl.t_detect is not None


def test_hold_down_postpones_recovery_past_a_straggler() -> None:
    records = log(extra_bad=(25.0,))
    strict = client_timeline(records, t_inject=1010.0, judge=is_error, objective=0.9999)
    assert strict.t_recover is not None
    # between it and the first request after it
    assert strict.t_recover.t == pytest.approx((1025.0 + 1025.04) / 2)
    short = client_timeline(records, t_inject=1010.0, judge=is_error, objective=0.9999,
                            hold_down=4.0)
    assert short.t_recover is not None and short.t_recover.t == pytest.approx(1019.98)
    loose = client_timeline(records, t_inject=1010.0, judge=is_error, objective=0.99)
    # 1 bad in 250 allowed: the straggler does not postpone it, but a window never
    # starts at a failed request
    assert loose.t_recover is not None and loose.t_recover.t == pytest.approx(1019.98)


def test_no_recovery_when_the_observation_ends_first() -> None:
    tl = client_timeline(log((10.0, 35.0)), t_inject=1010.0, judge=is_error, objective=0.9999)
    assert tl.t_impact is not None and tl.t_recover is None and tl.ttr is None


@settings(max_examples=150, deadline=None)
@example(flags=[True, True, False, True, False, False, False], gaps=[1.0] * 120,
         objective=0.5, hold_down=2.0, inject=0)  # a window within it before the breach
@given(flags=st.lists(st.booleans(), min_size=1, max_size=120),
       gaps=st.lists(st.floats(0.01, 2.0), min_size=120, max_size=120),
       objective=st.sampled_from([0.5, 0.9, 0.9999]), hold_down=st.floats(0.5, 10.0),
       inject=st.integers(0, 60))
def test_recovery_is_the_first_window_within_the_slo_after_the_breach(
        flags: list[bool], gaps: list[float], objective: float, hold_down: float,
        inject: int) -> None:
    starts, t = [], 0.0
    for gap in gaps[:len(flags)]:
        t += gap
        starts.append(t)
    records = [RequestRecord(s, 1.0, "/x", "GET", not bad, 502 if bad else 200)
               for s, bad in zip(starts, flags, strict=True)]
    t_inject = starts[min(inject, len(starts) - 1)]
    tl = client_timeline(records, t_inject=t_inject, judge=is_error, objective=objective,
                         hold_down=hold_down)
    if tl.ttr is not None:
        assert tl.ttr.t >= 0 and tl.ttr.lo >= 0
    end = max(r.end for r in records)
    incidents = client_incidents(records, [Covered("slo", objective, is_error)],
                                 hold_down=hold_down, end=end)
    bad_at = dict(zip(starts, flags, strict=True))

    def window_ok(s: float) -> bool:
        inside = [b for x, b in zip(starts, flags, strict=True) if s <= x < s + hold_down]
        return bool(inside) and meets(inside.count(False), len(inside), objective)

    for x in incidents:
        # the breach is seen when the request that tipped the trailing window ends: a
        # bad one, at or after the impact
        tipped = next(r.t for r in records if r.end == x.detect.t)
        assert bad_at[tipped] and x.impact.t <= x.detect.t
        # the first incident's trailing window misses the objective (once it is not cut
        # by the start of the data; later ones count an earlier incident's bad as good)
        if x is incidents[0] and tipped - starts[0] >= hold_down:
            inside = [b for s, b in zip(starts, flags, strict=True)
                      if tipped - hold_down <= s <= tipped]
            assert not meets(inside.count(False), len(inside), objective)
        if x.recover is None:
            # still out: no good request after the breach starts a window within the SLO
            # that fits before the end
            assert not any(window_ok(s) and not bad_at[s] and s + hold_down <= end
                           for s in starts if s > tipped)
            continue
        assert x.recover.t >= x.impact.t and x.recover.t >= tipped
        # the estimate is the middle between the last bad request and the first good one
        # after it: a good request within its bounds starts a window within the SLO that
        # fits before the end (never a failed one), and none from the breach to its lower
        # bound does
        assert not bad_at[min(s for s in starts if s >= x.recover.t)]
        assert any(window_ok(s) and not bad_at[s] and s + hold_down <= end
                   for s in starts if x.recover.t <= s <= x.recover.hi)
        earlier = [s for s, bad in zip(starts, flags, strict=True)
                   if not bad and tipped < s < x.recover.lo]
        assert not any(window_ok(s) for s in earlier)
    if tl.t_impact is not None and tl.t_recover is not None:
        assert tl.t_recover.t >= tl.t_impact.t


def scrape_bins(down: tuple[float, float], phase: float = 0.315, rate: int = 25,
                seconds: int = 40) -> list[Bin]:
    """Per-scrape bins of a constant-rate load with an outage, as Prometheus would see it."""
    out = []
    for k in range(1, seconds):
        lo, hi = 1000 + phase + k - 1, 1000 + phase + k
        starts = [1000 + i / rate for i in range(int((lo - 1000) * rate) + 1,
                                                  int((hi - 1000) * rate) + 1)]
        bad = sum(1 for s in starts if down[0] <= s < down[1])
        out.append(Bin(lo, hi, bad, len(starts)))
    return out


def test_server_edges_are_interpolated_inside_the_scrape() -> None:
    truth = (1010.0027, 1020.0071)
    tl = server_timeline(scrape_bins(truth), t_inject=truth[0], objective=0.9999,
                         scrape_interval=1.0)
    assert tl.t_impact is not None and tl.t_recover is not None and tl.ttr is not None
    assert tl.t_impact.lo <= truth[0] <= tl.t_impact.hi
    assert tl.t_recover.lo <= truth[1] <= tl.t_recover.hi
    assert abs(tl.t_impact.t - truth[0]) < 0.1 and abs(tl.t_recover.t - truth[1]) < 0.1
    assert abs(tl.ttr.t - (truth[1] - truth[0])) < 0.1
    assert tl.ttr.err <= 2.0  # one scrape interval on each edge
    assert tl.t_detect is not None and tl.t_detect.t == pytest.approx(1010.315)


@settings(max_examples=100, deadline=None)
@given(start=st.floats(5.0, 20.0), length=st.floats(0.05, 12.0), phase=st.floats(0.0, 0.99))
def test_server_ttr_is_never_negative_and_brackets_the_truth(start: float, length: float,
                                                             phase: float) -> None:
    truth = (1000 + start, 1000 + start + length)
    tl = server_timeline(scrape_bins(truth, phase, seconds=45), t_inject=truth[0],
                         objective=0.9999, scrape_interval=1.0, hold_down=5.0)
    if tl.t_impact is None:  # an outage between two requests: nothing to see
        assert length < 0.05
        return
    assert tl.ttr is not None and tl.ttr.t >= 0
    assert tl.ttr.lo - 0.04 <= length <= tl.ttr.hi + 0.04  # requests are 40 ms apart


def test_counter_increments_handle_resets_and_new_series() -> None:
    assert counter_increments([(1.0, 5.0), (2.0, 7.0), (3.0, 2.0)], start=0.5,
                              scrape_interval=1.0) == [(1.0, 2.0, 2.0), (2.0, 3.0, 2.0)]
    born = counter_increments([(10.0, 3.0), (11.0, 4.0)], start=0.0, scrape_interval=1.0)
    assert born == [(9.0, 10.0, 3.0), (10.0, 11.0, 1.0)]


def test_bins_sum_instances_and_read_good_counters() -> None:
    total = [[(100.0, 0), (101.0, 10), (102.0, 20)], [(100.3, 0), (101.3, 5), (102.3, 10)]]
    good = [[(100.0, 0), (101.0, 9), (102.0, 19)], [(100.3, 0), (101.3, 5), (102.3, 10)]]
    bins = bin_counters(total, good=good, start=99.5, scrape_interval=1.0)
    assert [(b.bad, b.total) for b in bins] == [(1, 15), (0, 15)]
    assert bins[0].lo == 100.0 and bins[0].hi == pytest.approx(101.3)  # widened
    with pytest.raises(ValueError):
        bin_counters(total, start=0, scrape_interval=1.0)
    assert bin_counters([], bad=[], start=0, scrape_interval=1.0) == []


def test_alert_fired_counts_only_a_new_episode() -> None:
    assert alert_fired([[(100.0, 1), (101.0, 1), (109.0, 1)]], t_inject=100.5,
                       evaluation_interval=1.0) == (108.0, 109.0)
    assert alert_fired([[(99.0, 1), (100.0, 1)]], t_inject=99.5, evaluation_interval=1.0) is None
    assert alert_fired([], t_inject=0, evaluation_interval=1.0) is None


def timeline(observer: str, impact: float | None, recover: float | None,
             err: float) -> Timeline:
    def est(t: float | None) -> Estimate | None:
        return None if t is None else Estimate(t, t - err, t + err)
    return Timeline(observer, 100.0, 200.0, est(impact), None, est(recover), total=10)


def test_compare_reports_disagreements_beyond_the_combined_uncertainty() -> None:
    client = timeline("client", 100.0, 110.0, 0.04)
    assert compare(client, timeline("server", 100.5, 110.5, 1.0)) == []
    found = compare(client, timeline("server", 100.0, 113.0, 1.0))
    assert [d.what for d in found] == ["t_recover", "ttr"]
    assert "more than the combined ± 1.040 s" in found[0].describe()
    missing = compare(client, timeline("server", None, None, 1.0))
    assert "the client observed one, the server did not" in missing[0].describe()


def test_an_estimate_lies_within_its_bounds() -> None:
    with pytest.raises(ValueError):
        Estimate(1.0, 2.0, 3.0)

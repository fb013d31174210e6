"""The incident finder on synthetic request streams whose true outages are known."""

from __future__ import annotations

import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from chaosgate.faults.timeline import FaultTimeline, healed_by
from chaosgate.load.requestlog import RequestRecord
from chaosgate.slo.counters import Bin
from chaosgate.slo.incidents import (
    HEAL_MARGIN,
    Covered,
    Incident,
    client_incidents,
    incident_at,
    server_incidents,
)
from chaosgate.slo.timeline import client_timeline_of

ROUTES = ("/api/products", "/api/products/{id}", "/api/checkout")


def availability(route: str | None = None) -> Covered:
    def judge(r: RequestRecord) -> bool | None:
        if route is not None and r.name != route:
            return None
        return r.status is None or r.status >= 500

    return Covered(f"availability{route or ''}", 0.9999, judge)


def latency(route: str, limit_ms: float = 250.0) -> Covered:
    return Covered(f"latency{route}", 0.95,
                   lambda r: None if r.name != route else r.ms > limit_ms)


def stream(outages: list[tuple[float, float]], *, seed: int, rate: float = 50.0,
           seconds: float = 100.0, touched: tuple[str, ...] = ROUTES[:2],
           slow_share: float = 0.005, fast_503: bool = False) -> list[RequestRecord]:
    """Open-model requests over three routes; those on ``touched`` routes that start
    inside an outage fail (a 502 after 2 ms, or a fast 503); a few others are slow."""
    rng = random.Random(seed)
    out, t = [], 1000.0
    last_slow: dict[str, float] = {}
    while t < 1000.0 + seconds:
        t += rng.expovariate(rate)
        route = rng.choice(ROUTES)
        down = route in touched and any(a <= t < b for a, b in outages)
        if down:
            out.append(RequestRecord(t, 1.0 if fast_503 else 2.0, route, "GET", False,
                                     503 if fast_503 else 502, "http_5xx"))
        else:  # stray slow requests, where they cannot blur an edge
            # known limit: a stray slow request within seconds after a short outage
            # can postpone a 95 % latency SLO's recovery past it (hypothesis found it)
            near = any(a - 1.0 <= t < b + 3.0 for a, b in outages)
            # a stray is one slow request per route in 20 s: a random cluster of them
            # (hypothesis found 9 in 9 s on one route) is a real p95 breach, not a stray
            spaced = t - last_slow.get(route, float("-inf")) > 20.0
            slow = rng.random() < slow_share and not near and spaced
            if slow:
                last_slow[route] = t
            ms = 400.0 if slow else rng.uniform(2.0, 15.0)
            out.append(RequestRecord(t, ms, route, "GET", True, 200))
    return out


def schedule(lengths: list[float], gaps: list[float]) -> list[tuple[float, float]]:
    t, out = 1005.0, []
    for length, gap in zip(lengths, gaps, strict=False):
        out.append((t, t + length))
        t += length + gap
    return out


SLOS = [availability(), *(latency(r) for r in ROUTES)]


def truth_inside(found: list[Incident], outages: list[tuple[float, float]]
                 ) -> list[tuple[Incident, tuple[float, float]]]:
    """Each outage its own incident (none invented, none merged), its true impact,
    recovery and TTR inside the stated bounds; the pairs, for more checks."""
    assert len(found) == len(outages), (found, outages)
    for incident, (t0, t1) in zip(found, outages, strict=True):
        assert incident.impact.lo <= t0 <= incident.impact.hi
        assert incident.recover is not None
        assert incident.recover.lo <= t1 <= incident.recover.hi
        ttr = incident.ttr
        assert ttr is not None and ttr.lo <= t1 - t0 <= ttr.hi
    return list(zip(found, outages, strict=True))


@settings(max_examples=40, deadline=None)
@example(lengths=[1.0], gaps=[12.0] * 4, seed=2742)  # a cluster of strays, once
@given(lengths=st.lists(st.floats(0.5, 8.0), min_size=1, max_size=4),
       gaps=st.lists(st.floats(12.0, 20.0), min_size=4, max_size=4),
       seed=st.integers(0, 10_000))
def test_every_outage_is_one_incident_with_the_truth_inside_its_bounds(
        lengths: list[float], gaps: list[float], seed: int) -> None:
    outages = schedule(lengths, gaps)
    log = stream(outages, seed=seed)
    found = client_incidents(log, SLOS, hold_down=10.0, end=max(r.t for r in log))
    for incident, (t0, t1) in truth_inside(found, outages):
        ttr = incident.ttr
        assert ttr is not None
        # the truth within the stated ± (how tight it is depends on the random request
        # spacing at the edges; bench/measurement.py reports the widths on real outages)
        assert abs(ttr.t - (t1 - t0)) <= ttr.err
        assert set(incident.routes) <= set(ROUTES[:2])
        # seen by the 99.99 % SLO's window at the end of the first failed request
        first_bad = min((r for r in log if not r.ok and r.t >= incident.impact.t),
                        key=lambda r: r.t)
        assert incident.detect.t == first_bad.end <= incident.recover.t
        # each request once: no more bad ones than requests started in the incident
        started = [r for r in log if incident.impact.t <= r.t < incident.recover.t]
        truly_bad = [r for r in started if not r.ok or r.ms > 250.0]
        assert incident.bad == len(truly_bad) and incident.total == len(started)


def test_two_outages_a_healthy_hold_down_apart_are_two_incidents_closer_ones_one() -> None:
    apart = stream([(1010.0, 1013.0), (1024.0, 1027.0)], seed=1, seconds=60)
    assert len(client_incidents(apart, SLOS, hold_down=10.0)) == 2
    close = stream([(1010.0, 1013.0), (1019.0, 1022.0)], seed=1, seconds=60)
    (one,) = client_incidents(close, SLOS, hold_down=10.0)
    assert one.recover is not None and one.recover.t >= 1022.0


def test_a_fast_503_is_bad_for_a_latency_slo_too() -> None:
    log = stream([(1010.0, 1016.0)], seed=2, seconds=40, fast_503=True)
    only_latency = [latency(ROUTES[0])]
    (incident,) = client_incidents(log, only_latency, hold_down=5.0)
    assert incident.recover is not None and incident.recover.t >= 1016.0


def test_an_outage_still_going_has_no_recovery() -> None:
    log = stream([(1010.0, 1100.0)], seed=3, seconds=40)
    (incident,) = client_incidents(log, SLOS, hold_down=10.0)
    assert incident.recover is None and incident.ttr is None
    assert incident.to_json()["recovered"] is None


def test_the_hint_picks_the_incident_and_t_end_is_honoured() -> None:
    outages = [(1010.0, 1013.0), (1030.0, 1036.0)]
    log = stream(outages, seed=4, seconds=60)
    found = client_incidents(log, SLOS, hold_down=10.0)
    assert incident_at(found, 1029.0) is found[1]
    assert incident_at(found, 1009.5) is found[0]
    # the observation ends before the second outage: the first one alone is read
    tl = client_timeline_of(log, SLOS, t_inject=1009.9, t_end=1028.0)
    assert tl.t_recover is not None and tl.t_recover.t < 1014.0
    assert tl.bad == sum(1 for r in log if (not r.ok or r.ms > 250.0) and r.end >= 1009.9
                         and r.t < 1028.0)


def test_a_stray_slow_request_before_an_outage_does_not_move_its_impact() -> None:
    log = stream([(1020.0, 1025.0)], seed=5, seconds=50, slow_share=0.0)
    log.append(RequestRecord(1012.0, 400.0, ROUTES[0], "GET", True, 200))
    (incident,) = client_incidents(log, [latency(ROUTES[0]), latency(ROUTES[1])],
                                   hold_down=10.0)
    assert abs(incident.impact.t - 1020.0) < 0.5


def mixed(outages: list[tuple[float, float]], *, seed: int, rate: float = 50.0,
          seconds: float = 100.0, checkout_share: float = 0.05,
          stray_after: float | None = None) -> list[RequestRecord]:
    """Open-model requests, most on a listing route, few on checkout (both touched, like a
    link to the database; at 5 % and more, so that its first good request comes well
    within the healthy gap: a rarer route's SLO cannot see a window back within it before
    the next outage): those that start inside an outage fail; ``stray_after``: one
    slow listing this many seconds after each outage ends."""
    rng = random.Random(seed)
    out, t = [], 1000.0
    while t < 1000.0 + seconds:
        t += rng.expovariate(rate)
        route = ROUTES[2] if rng.random() < checkout_share else ROUTES[0]
        if any(a <= t < b for a, b in outages):
            out.append(RequestRecord(t, 2.0, route, "GET", False, 502, "http_5xx"))
        else:
            out.append(RequestRecord(t, rng.uniform(2.0, 15.0), route, "GET", True, 200))
    for _, b in outages if stray_after is not None else ():
        assert stray_after is not None
        out.append(RequestRecord(b + stray_after, 400.0, ROUTES[0], "GET", True, 200))
    return sorted(out, key=lambda r: r.t)


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.floats(1.5, 8.0), min_size=1, max_size=3),
       gaps=st.lists(st.floats(16.0, 25.0), min_size=3, max_size=3),
       share=st.floats(0.05, 0.3), stray=st.one_of(st.none(), st.floats(0.05, 3.0)),
       seed=st.integers(0, 10_000))
def test_the_recovery_does_not_wait_for_the_rarest_route(
        lengths: list[float], gaps: list[float], share: float, stray: float | None,
        seed: int) -> None:
    """The recovery lies between the incident's last bad request and the first good one
    after it on a touched route, not at the first of the rarest route (checkout's latency
    SLO recovers last): the estimate is their middle (the impact's too), and a stray slow
    listing after its SLO recovered does not move it. (Known limit, kept: an outage too
    short to breach the 95 % listing SLO on its own, under 1.5 s here, breaches it with
    a stray slow request soon after, which then belongs to the incident.)"""
    outages = schedule(lengths, gaps)
    log = mixed(outages, seed=seed, checkout_share=share, stray_after=stray)
    slos = [availability(), latency(ROUTES[0]), latency(ROUTES[2], 500.0)]
    found = client_incidents(log, slos, hold_down=10.0, end=max(r.t for r in log))
    for incident, (t0, t1) in truth_inside(found, outages):
        assert incident.recover is not None
        last_bad = max(r.t for r in log if r.t < t1)
        first_good = min(r.t for r in log if r.t >= t1)
        assert incident.recover.t == (last_bad + first_good) / 2
        last_good = max(r.t for r in log if r.t < t0)
        first_bad = min(r.t for r in log if r.t >= t0)
        assert incident.impact.t == (last_good + first_bad) / 2


def test_the_hint_is_bounded_by_the_heal() -> None:
    """An incident that begins long after the fault was healed is not the fault's: a late
    blip after a pod kill with no visible impact leaves the fault without an incident."""
    log = stream([(1040.0, 1041.0)], seed=6, seconds=60)
    (blip,) = client_incidents(log, SLOS, hold_down=10.0)
    assert incident_at([blip], 1005.0) is blip  # unbounded: any later incident
    assert incident_at([blip], 1005.0, healed=1010.0) is None  # 30 s after the heal
    assert incident_at([blip], 1005.0, healed=1040.0 - HEAL_MARGIN + 1.0) is blip
    assert incident_at([blip], 1040.5, healed=1045.0) is blip  # out when applied
    tl = client_timeline_of(log, SLOS, t_inject=1005.0, t_healed=1010.0)
    assert tl.t_impact is None and tl.t_recover is None


def test_healed_by_is_the_last_fault_s_heal_or_none() -> None:
    done = FaultTimeline("a", "kill-pods", "kill", t_inject=1.0, t_revert=2.0, t_healed=5.0)
    reverted = FaultTimeline("b", "partition", "cut", t_inject=1.0, t_revert=3.0)
    held = FaultTimeline("c", "latency", "slow", t_inject=1.0)
    assert done.healed_at == 5.0 and reverted.healed_at == 3.0 and held.healed_at is None
    assert healed_by([done, reverted]) == 5.0
    assert healed_by([done, held]) is None and healed_by([]) is None


def server_bins(outages: list[tuple[float, float]], *, lag: float, phase: float,
                seed: int, rate: float = 50.0, seconds: int = 110) -> list[Bin]:
    """Bins as a proxy counts them: a request at its arrival, its error when it fails,
    up to ``lag`` seconds later (a timeout)."""
    rng = random.Random(seed)
    arrivals: list[float] = []
    errors: list[float] = []
    t = 1000.0
    while t < 1000.0 + seconds:
        t += rng.expovariate(rate)
        arrivals.append(t)
        if any(a <= t < b for a, b in outages):
            errors.append(t + rng.uniform(0.0, lag))
    out = []
    for k in range(1, seconds + 5):
        lo, hi = 1000.0 + phase + k - 1, 1000.0 + phase + k
        out.append(Bin(lo, hi, sum(1 for e in errors if lo < e <= hi),
                       sum(1 for a in arrivals if lo < a <= hi)))
    return out


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.floats(1.0, 8.0), min_size=1, max_size=4),
       gaps=st.lists(st.floats(15.0, 20.0), min_size=4, max_size=4),
       lag=st.floats(0.0, 3.0), phase=st.floats(0.0, 0.99), seed=st.integers(0, 10_000))
def test_the_server_keeps_its_bounds_when_requests_take_time_to_fail(
        lengths: list[float], gaps: list[float], lag: float, phase: float,
        seed: int) -> None:
    outages = schedule(lengths, gaps)
    bins = server_bins(outages, lag=lag, phase=phase, seed=seed)
    found = server_incidents({"a": bins}, [Covered("a", 0.9999)], scrape_interval=1.0,
                             fail_within=3.0, hold_down=10.0)
    for incident, (t0, t1) in truth_inside(found, outages):
        ttr = incident.ttr
        assert ttr is not None and abs(ttr.t - (t1 - t0)) <= 2.0 + lag
        # seen at the scrape that first counted an error of it
        first = min(b.hi for b in bins if b.bad and b.hi >= incident.impact.lo)
        assert incident.detect.t == max(first, incident.impact.t)


def test_errors_are_not_capped_at_a_scrape_s_arrivals() -> None:
    bins = [Bin(1000.0 + k, 1001.0 + k, 0, 50) for k in range(20)]
    bins[5] = Bin(1005.0, 1006.0, 120, 3)  # stalled requests failing together, few arrivals
    (incident,) = server_incidents({"a": bins}, [Covered("a", 0.9999)], scrape_interval=1.0,
                                   hold_down=5.0)
    assert incident.bad == 120


def test_a_latency_breach_counted_when_stalled_requests_end_is_the_same_outage() -> None:
    """SIGSTOP: errors are counted during the stall, the stalled requests' latencies only
    when they end, after the SIGCONT; the latency SLO's breach then begins after the
    availability SLO's recovery, within its impact's bounds (fail_within): one incident."""
    def bins(bad: dict[int, int]) -> list[Bin]:
        return [Bin(1000.0 + k, 1001.0 + k, bad.get(k, 0), 50) for k in range(40)]

    found = server_incidents(
        {"availability": bins({5: 50, 6: 50, 7: 50}), "latency": bins({9: 40, 10: 10})},
        [Covered("availability", 0.9999), Covered("latency", 0.95)], scrape_interval=1.0,
        fail_within=3.0, hold_down=10.0)
    assert len(found) == 1, found
    (incident,) = found
    assert set(incident.slos) == {"availability", "latency"}
    assert incident.impact.lo <= 1005.0 <= incident.impact.hi
    assert incident.recover is not None and incident.recover.t >= 1010.0


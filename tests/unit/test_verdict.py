"""The verdict type: combining verdicts and their exit codes, with properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaosgate import exceptions
from chaosgate.verdict import (
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    EXIT_PASS,
    EXIT_USAGE,
    VERDICTS,
    VerdictName,
    combine,
    exit_code,
    is_verdict,
)

verdicts = st.sampled_from(VERDICTS)
lists = st.lists(verdicts)


def test_the_verdicts_and_their_exit_codes() -> None:
    assert set(VERDICTS) == {"pass", "fail", "inconclusive", "aborted"}
    ordered: tuple[VerdictName, ...] = ("pass", "fail", "inconclusive", "aborted")
    assert [exit_code(v) for v in ordered] == [0, 1, 3, 4]
    assert (EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INCONCLUSIVE) == (0, 1, 2, 3)
    assert EXIT_USAGE not in {exit_code(v) for v in VERDICTS}  # usage is not a verdict


def test_exceptions_re_exports_the_exit_codes() -> None:
    assert (exceptions.EXIT_PASS, exceptions.EXIT_FAIL, exceptions.EXIT_USAGE,
            exceptions.EXIT_INCONCLUSIVE) == (EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INCONCLUSIVE)
    assert exceptions.SLOViolated.exit_code == exit_code("fail")
    assert exceptions.Inconclusive.exit_code == exit_code("inconclusive")
    assert exceptions.FaultAborted.exit_code == exit_code("aborted")


@pytest.mark.parametrize(("given_", "expected"), [
    ([], "inconclusive"),  # no data is never a pass
    (["pass"], "pass"),
    (["pass", "pass"], "pass"),
    (["pass", "inconclusive"], "inconclusive"),
    (["inconclusive", "fail"], "fail"),
    (["fail", "pass"], "fail"),
    (["fail", "aborted", "inconclusive"], "aborted"),  # stopped to protect the system
])
def test_combine_examples(given_: list[VerdictName], expected: str) -> None:
    assert combine(given_) == expected
    assert combine(iter(given_)) == expected  # any iterable, read once


def test_what_is_not_a_verdict_is_never_a_pass() -> None:
    assert not is_verdict("ok") and not is_verdict(None) and not is_verdict(0)
    assert all(is_verdict(v) for v in VERDICTS)
    assert combine(["pass", "ok"]) == "inconclusive"  # type: ignore[list-item]
    assert combine(["fail", "ok"]) == "fail"  # type: ignore[list-item]
    assert exit_code("ok") == EXIT_INCONCLUSIVE  # type: ignore[arg-type]


@given(lists, st.randoms())
def test_combine_does_not_depend_on_order(items: list[VerdictName], rnd: random.Random) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert combine(shuffled) == combine(items) == combine(reversed(items))


@given(lists, lists)
def test_fail_dominates_all_but_an_abort(before: list[VerdictName],
                                         after: list[VerdictName]) -> None:
    expected = "aborted" if "aborted" in before + after else "fail"
    assert combine([*before, "fail", *after]) == expected


@given(lists, lists)
def test_an_abort_dominates(before: list[VerdictName], after: list[VerdictName]) -> None:
    assert combine([*before, "aborted", *after]) == "aborted"


@given(lists)
def test_empty_or_not_all_pass_is_never_a_pass(items: list[VerdictName]) -> None:
    result = combine(items)
    assert (result == "pass") == (bool(items) and all(v == "pass" for v in items))
    assert (exit_code(result) == EXIT_PASS) == (result == "pass")


@given(lists)
def test_inconclusive_only_without_a_fail(items: list[VerdictName]) -> None:
    result = combine(items)
    if items:
        assert result in items
    assert (result == "inconclusive") == ("fail" not in items and "aborted" not in items
                                          and ("inconclusive" in items or not items))


@given(st.lists(verdicts, min_size=1), st.lists(verdicts, min_size=1))
def test_combining_in_parts_is_combining_at_once(a: list[VerdictName],
                                                 b: list[VerdictName]) -> None:
    assert combine([combine(a), combine(b)]) == combine(a + b)
    assert combine([combine(a)]) == combine(a)


def test_an_interruption_exits_128_plus_the_signal_and_says_which() -> None:
    import signal

    from chaosgate.verdict import EXIT_SIGNAL_BASE, interrupted_exit_code, interruption_reason

    assert interrupted_exit_code(signal.SIGINT) == 130 == EXIT_SIGNAL_BASE + 2
    assert interrupted_exit_code(signal.SIGTERM) == 143
    assert interrupted_exit_code(None) == EXIT_INCONCLUSIVE  # interrupted, no signal seen
    assert interruption_reason(signal.SIGTERM) == "interrupted by SIGTERM"
    assert interruption_reason(None) == "interrupted"
    assert not {interrupted_exit_code(s) for s in (2, 15, None)} & {EXIT_PASS, EXIT_FAIL}

"""Chaos Toolkit controls: load, SLO evaluation, guaranteed reverts, Allure results.

Declare them at the experiment's top level, in this order (their
``after_experiment`` hooks run in the order listed, and each builds on the
one before)::

    controls:
      - name: chaosgate-ledger        # revert whatever this run left applied
        provider: {type: python, module: chaosgate.ctk.controls.ledger}
      - name: chaosgate-load          # open-model load for the whole experiment
        provider: {type: python, module: chaosgate.ctk.controls.load,
                   arguments: {rate: 30, warmup: 8, observe_after: 20}}
      - name: chaosgate-slo           # gates, timeline, TTR and verdicts -> journal
        provider: {type: python, module: chaosgate.ctk.controls.slo}
      - name: chaosgate-allure        # the run as Allure results
        provider: {type: python, module: chaosgate.ctk.controls.allure}

- :mod:`.ledger`: reverts every fault of this run at the end, even when
  Chaos Toolkit skips the rollbacks (a failed or interrupted run, SIGINT,
  SIGTERM), then checks that the ledger lists nothing of this run as open.
- :mod:`.load`: starts a load profile before the steady-state hypothesis,
  keeps it through the rollbacks and ``observe_after`` seconds past the last
  revert, then stops it; the request log's path goes to the journal.
- :mod:`.slo`: judges the run as a game day (the gates of
  :mod:`chaosgate.gameday.gates`), writes ``journal["chaosgate"]`` and marks
  the run deviated (fail) or failed (inconclusive), so ``chaos run`` exits 1
  unless the SLOs held.
- :mod:`.allure`: steps for the hypothesis, method and rollbacks; the
  journal (redacted), the timeline plot and the SLO table as attachments.

Chaos Toolkit ignores exceptions raised by controls, so these catch their
own errors and record them (the run is then inconclusive, never a pass).
Their arguments and defaults are in docs/experiments.md.
"""

from __future__ import annotations

from typing import Any

from ..journal import KEY, VERSION, ChaosgateSection

__all__ = ["chaosgate_section"]


def chaosgate_section(journal: dict[str, Any]) -> ChaosgateSection:
    """``journal["chaosgate"]``, created when missing."""
    found: ChaosgateSection = journal.setdefault(KEY, {"version": VERSION})
    return found

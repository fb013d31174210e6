"""Reports: Allure results and HTML, timeline plots, the stakeholder summary.

Modules (each importable on its own; only :mod:`.plots` imports matplotlib):

- :mod:`.model`: the data every report reads (:class:`GameDayResult`,
  :class:`SLORow`, :class:`TimelineMarks`) and the results file, which
  carries the session's verdict (:class:`GameDayResults`).
- :mod:`.plots`: the game-day timeline and the MTTR plot, PNG bytes.
- :mod:`.allure_results`: write Allure results without pytest;
  :mod:`.allure_gameday`: a game day as an Allure result, timed phase steps;
  :mod:`.allure_pytest`: helpers for pytest scenarios under allure-pytest.
- the HTML report is built by :mod:`chaosgate.clients.allure` (the npm ``allure`` CLI).
- :mod:`.summary`: the one-page HTML summary; :mod:`.tables`: its tables.
- :mod:`.redact`: secrets never appear in any artifact.

JUnit XML is pytest's own (``chaosgate gameday`` runs pytest with
``--junitxml``): one test case per game day, failed on an SLO violation, an
error when inconclusive.
"""

from __future__ import annotations

from .model import GameDayResult, GameDayResults, SLORow, TimelineMarks
from .redact import redact_mapping, redact_obj, redact_text

__all__ = [
    "GameDayResult",
    "GameDayResults",
    "SLORow",
    "TimelineMarks",
    "redact_mapping",
    "redact_obj",
    "redact_text",
]

"""Reports: Allure results and HTML, timeline plots, the stakeholder summary, JUnit XML.

Modules (each importable on its own; only :mod:`.plots` imports matplotlib):

- :mod:`.model`: the data every report reads (:class:`GameDayResult`,
  :class:`SLORow`, :class:`TimelineMarks`), overall verdict and exit code.
- :mod:`.plots`: the game-day timeline and the MTTR plot, PNG bytes.
- :mod:`.allure_results`: write Allure results without pytest;
  :mod:`.allure_gameday`: a game day as an Allure result, timed phase steps;
  :mod:`.allure_pytest`: helpers for pytest scenarios under allure-pytest.
- :mod:`.allure_html`: build the HTML report with the npm ``allure`` CLI.
- :mod:`.summary`: the one-page HTML summary; :mod:`.junit`: JUnit XML.
- :mod:`.redact`: secrets never appear in any artifact.
"""

from __future__ import annotations

from .model import GameDayResult, Outcome, SLORow, TimelineMarks, exit_code_for, overall_verdict
from .redact import redact_mapping, redact_obj, redact_text

__all__ = [
    "GameDayResult",
    "Outcome",
    "SLORow",
    "TimelineMarks",
    "exit_code_for",
    "overall_verdict",
    "redact_mapping",
    "redact_obj",
    "redact_text",
]

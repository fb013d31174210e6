"""chaosgate in pytest: the plugin, the game-day session, the fixtures' helpers.

- :mod:`.plugin` (the ``pytest11`` entry point): ``--chaos-*`` options,
  markers and fixtures only, everything heavy imported lazily;
- :mod:`.session`: :class:`~.session.ChaosSession`, registered as a plugin
  when ``--chaos-target`` is given: results, terminal summary, exit code;
- :mod:`.fixtures`: what ``chaos_fault``, ``chaos_load``, ``chaos_slo`` and
  ``chaos_timeline`` hand to a test;
- :mod:`.scenario`: the ``gameday`` fixture's runner: the game-day engine
  (:mod:`chaosgate.gameday`) wrapped in Allure steps, judged as a test.

The game-day engine itself imports none of pytest, Allure or click.
"""

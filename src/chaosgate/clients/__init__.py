"""One module per external system; the only places that reach it.

- :mod:`.prometheus`: the Prometheus HTTP API (behind a circuit breaker);
- :mod:`.supervisor`: supervisord's XML-RPC interface;
- :mod:`.patroni`: Patroni's REST API;
- :mod:`.toxiproxy`: the Toxiproxy HTTP API (the sandbox's fault proxy or a real one);
- :mod:`.kubernetes`: the Kubernetes API (official client);
- :mod:`.http`: plain HTTP health checks (``/healthz``, HAProxy's stats CSV);
- :mod:`.processes`: local processes (``/proc``, signals to processes chaosgate started);
- :mod:`.children`: starting them so that they die with their owner, and their registry;
- :mod:`.locust`: Locust, always as a subprocess;
- :mod:`.allure`: the Allure report generator (npm), as a subprocess;
- :mod:`.git`: the revision a run is recorded against (``git rev-parse``).

Clients turn their system's failures into chaosgate's errors
(:class:`~chaosgate.exceptions.Inconclusive` for "unreachable", never a pass;
:class:`~chaosgate.exceptions.UsageError` for bad credentials or input).
"""

"""The events system's services: an event pipeline on a Redis stream (processes).

``ingest`` replicas accept ``POST /events`` and append each event to the
stream ``events`` (``XADD``); ``consumer`` replicas, one consumer group
(``processors``), read it (``XREADGROUP``), process and acknowledge each
event (``XACK``). Both serve ``/healthz`` and ``/metrics`` (names in
:mod:`.metrics`, none of them ``shop_*``). Run one replica with
``python -m chaosgate.sandbox.pipeline {ingest|consumer} --port N --pod NAME
--redis HOST:PORT``.
"""

from __future__ import annotations

__all__ = ["APPS", "GROUP", "STREAM"]

APPS = ("ingest", "consumer")
STREAM = "events"
GROUP = "processors"

"""The events pipeline under load: producers posting events to the ingest API.

Runs with plain Locust as well as through chaosgate::

    locust -f loadprofiles/events.py --host http://127.0.0.1:27100
    chaosgate load run --target .chaosgate/events/target.yaml --profile open --rate 150

Each task sends one event (``POST /events``, request name ``/events``, the
route the SLO catalogue's client observer reads): a JSON object with a
sequence number unique in the run (``worker index * 10**9 + n``), a kind
and a small payload. ``202`` with the stream ``id`` is an accepted event;
anything else counts as failed (a ``202`` without an id: ``bad_response``).
"""

from __future__ import annotations

import itertools
import random

from locust import task

from chaosgate.load.shapes import ProfileShape
from chaosgate.load.users import ChaosgateHttpUser, route

__all__ = ["EventProducer", "ProfileShape"]

KINDS = ("click", "view", "purchase", "signup")
_sequence = itertools.count(1)


class EventProducer(ChaosgateHttpUser):
    """A producer: one event per task."""

    def next_seq(self) -> int:
        """A sequence number, unique across the workers of a run."""
        worker = max(int(getattr(self.environment.runner, "worker_index", 0) or 0), 0)
        return worker * 10**9 + next(_sequence)

    @task
    @route("POST", "/events")
    def produce(self) -> None:
        """Post one event; a 202 must carry its stream id."""
        event = {"seq": self.next_seq(), "kind": random.choice(KINDS),
                 "value": random.randint(1, 1000)}
        with self.client.post("/events", json=event, name="/events",
                              catch_response=True) as resp:
            if resp.status_code != 202:
                return  # Locust's own status check marks it failed
            try:
                accepted = isinstance(resp.json().get("id"), str)
            except (ValueError, AttributeError):
                accepted = False
            if not accepted:
                resp.failure("202 without an id")

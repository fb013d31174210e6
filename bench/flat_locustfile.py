"""The benchmark's locustfile (bench/load.py --generator): one cheap route, as fast as it goes.

Used as is by bare Locust and by chaosgate (which adds its recorder), so the
two runs differ by the recorder only.
"""

from locust import task

from chaosgate.load.users import ChaosgateHttpUser, route


class Flat(ChaosgateHttpUser):
    """GET / in a loop (``--user-rate 0``) or on the open model's schedule."""

    @task
    @route("GET", "/")
    def home(self) -> None:
        self.client.get("/")

"""Load generation: Locust always runs as a subprocess (never imported here)."""

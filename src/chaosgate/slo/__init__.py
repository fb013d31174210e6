"""SLO catalogue, Prometheus access, timelines and verdicts."""

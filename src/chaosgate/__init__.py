"""chaosgate: prove, under load, that a system keeps its SLOs when things break."""

__version__ = "0.1.0"

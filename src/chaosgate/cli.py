"""The ``chaosgate`` command line (placeholder, filled in below)."""

"""The embedded default target: a replicated shop on 127.0.0.1 (docs/architecture.md §8).

- :mod:`.topology` is the shape as data (ports, pods, links), :mod:`.config`
  renders configuration from it; both are pure.
- :mod:`.manager` starts, checks and stops it; :mod:`.supervisor` and
  :mod:`.patroni` are the only clients of supervisord and Patroni.
- :mod:`.shop` and :mod:`.faultproxy` are programs the sandbox runs;
  :mod:`.events` is supervisord's event listener (process ground truth).
"""

"""The sandbox's fault proxy: a TCP proxy driven by the Toxiproxy 2.x HTTP API.

A standard Toxiproxy client drives it unchanged, so the same fault code works
against the sandbox and against a real Toxiproxy. Run it with::

    python -m chaosgate.sandbox.faultproxy --host 127.0.0.1 --port 27004 \\
        [--config proxies.json]

where ``proxies.json`` is a populate body: ``[{"name": ..., "listen":
"127.0.0.1:P", "upstream": "127.0.0.1:Q", "enabled": true}, ...]``.

Toxiproxy API (same paths, status codes, JSON fields and error bodies
``{"error": "proxy not found", "status": 404}``):

===========================================  =======================================
``GET /version``                             ``{"version": "2.12.0-chaosgate"}``
``GET /proxies``                             ``{name: proxy}``
``POST /proxies``                            201 proxy; 409 name exists; 500 cannot listen
``POST /populate``                           201 ``{"proxies": [proxy, ...]}``
``GET|POST|PATCH|DELETE /proxies/{name}``    proxy; update enabled/listen/upstream; 204
``GET|POST /proxies/{name}/toxics``          ``[toxic]``; 200 toxic (409 name exists)
``GET|POST|PATCH|DELETE .../toxics/{toxic}`` toxic; merge attributes/toxicity; 204
``POST /reset``                              204: every proxy enabled, every toxic gone
===========================================  =======================================

A proxy is ``{"name", "listen", "upstream", "enabled", "toxics": [toxic]}``;
a toxic is ``{"name", "type", "stream", "toxicity", "attributes"}`` with the
name defaulting to ``<type>_<stream>`` and the stream to ``downstream``.
Toxic types: ``latency`` (latency, jitter ms), ``timeout`` (timeout ms: data
is held; 0 holds until the toxic is removed, >0 also closes the connection
after that long), ``reset_peer`` (timeout ms after the next data, then RST),
``bandwidth`` (rate KB/s, 0 lets nothing through), ``slow_close`` (delay
ms), ``limit_data`` (bytes, then close), ``slicer`` (average_size,
size_variation bytes, delay µs: each chunk is written in slices about
average_size long, delay apart). ``latency`` delays every chunk by the
latency from when it was read and keeps reading meanwhile (as Toxiproxy; up
to 256 MiB held), so it adds latency without limiting bandwidth.
``toxicity`` is the probability that a toxic applies to a given connection.
Toxics apply to already open connections too. Disabling a proxy stops its
listener and cuts every open connection with a TCP RST. Where Toxiproxy's
behaviour is loose this implementation is stricter: negative attributes and
a toxicity outside 0..1 are 400s, the default listen address is
``127.0.0.1:0`` (not all interfaces), several toxics of one stream apply in
a fixed order (timeout, reset_peer, latency, slicer, limit_data, bandwidth)
rather than in insertion order; a slicer's average_size of 0 leaves chunks
whole (Toxiproxy never returns) and a size_variation not below average_size
counts as average_size - 1.

Extensions:

- ``GET /metrics``: Prometheus text, per proxy (label ``proxy``):
  ``chaosgate_faultproxy_proxy_enabled``, ``..._active_connections``,
  ``..._connections_total``, ``..._connections_closed_total{reason}``,
  ``..._upstream_connect_failures_total``, ``..._bytes_total{direction}``
  (``upstream`` = client to server), ``..._toxics_active`` and
  ``..._toxic{toxic,type,stream}`` (1 per toxic present). Beside them
  Toxiproxy's own ``toxiproxy_proxy_received_bytes_total`` and
  ``toxiproxy_proxy_sent_bytes_total`` (labels ``direction``, ``proxy``,
  ``listener``, ``upstream``), so existing Toxiproxy dashboards work; unlike
  Toxiproxy's, they count as bytes flow, not when a connection ends.
- ``GET /events[?since=SEQ]``: the last 1000 state changes, oldest first, each
  ``{"seq", "time" (epoch s), "event", "proxy", "details"}``; see
  :mod:`.events` for the kinds and their details.

State-changing requests from browsers (``User-Agent: Mozilla/...``) are
refused with 403, as Toxiproxy does; GETs are allowed so that ``/events``
and ``/metrics`` can be looked at.

Modules: :mod:`.model` and :mod:`.events` are pure (parsing, JSON shapes,
the journal); :mod:`.pipe` and :mod:`.link` are the TCP data path;
:mod:`.runtime` holds the proxies; :mod:`.server` is the HTTP API and
:func:`~.server.serve`; ``__main__`` is the command line. Importing this
package imports only the pure modules.
"""

from .events import Event, EventLog
from .model import ApiError, ProxySpec, ToxicSpec

__all__ = ["ApiError", "Event", "EventLog", "ProxySpec", "ToxicSpec"]

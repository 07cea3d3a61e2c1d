"""The security regression corpus: probes kept as data (payloads, routes, roles), run on a real server."""

"""The security regression corpus: probes kept as data (payloads, routes, roles), run against a real server."""

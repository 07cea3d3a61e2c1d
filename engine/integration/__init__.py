"""Departments' and the platform's systems hear about cases: the transactional outbox and webhooks.

- ``outbox``: a spine subscriber of every kind; the transaction's events and their
  deliveries are written just before its commit (rolled back with the change);
- ``subscriptions``: the admin's webhooks (URL, kinds, bundle/department filters, secret,
  format) and their deliveries (listed, replayed);
- ``delivery``: the workers' claim (``SKIP LOCKED`` and a lease), signed POST, retries with
  backoff, dead letters; in order per case and subscription;
- ``signing``: the HMAC-SHA256 signature headers and the check a receiver can copy;
- ``banjian``: the 办件 reporting format (受理 and 办结 records).

Sits beside ``engine.analytics``, above ``engine.feedback``: it follows cases and none of
the case path knows it. May import: ``engine.cases``, ``engine.storage``, ``engine.people``,
``engine.time``, ``engine.errors``; ``httpx`` (delivery only).
"""

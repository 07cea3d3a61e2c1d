"""Webhook signatures: HMAC-SHA256 over the timestamp and the body, and how a receiver checks one.

Every delivery carries three headers:

- ``X-Onething-Event-Id``: the event's uuid (the same on every retry and replay: de-duplicate by it);
- ``X-Onething-Timestamp``: seconds since the epoch when this attempt was signed;
- ``X-Onething-Signature``: ``"sha256=" + hex(HMAC-SHA256(secret, f"{timestamp}.{body}"))``.

Signing the timestamp with the body lets a receiver refuse old replays of a captured
request (``verify`` allows five minutes of difference by default). ``verify`` depends on
the standard library only, so a receiver may copy it as it is.

May import: nothing of onething (receivers copy this module).
"""

from __future__ import annotations

import hashlib
import hmac
import time

EVENT_ID_HEADER = "X-Onething-Event-Id"
TIMESTAMP_HEADER = "X-Onething-Timestamp"
SIGNATURE_HEADER = "X-Onething-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Onething-Signature`` value of ``body`` signed at ``timestamp``."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The timestamp and signature headers for one attempt to deliver ``body``."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    received_signature: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether a delivery is genuine: the signature matches and the timestamp is recent.

    Compare in constant time (``hmac.compare_digest``) so the check leaks nothing about the
    expected value; refuse timestamps further than ``tolerance_seconds`` from now.
    """
    if not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_seconds:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), received_signature)

"""Page sessions and CSRF: a signed session cookie, a token tied to it, and the checks.

The session cookie holds no secret and nothing the holder may change: a JSON payload
(session id, username, password version, expiry) and an HMAC-SHA256 over it with a key
derived from the API's signing key, so a session cookie is never a valid API token and
the reverse. Every form post carries a synchronizer token (``csrf_token`` field or
``X-CSRF-Token`` header) that is an HMAC of the session id; a new session id is issued at
sign-in and sign-out, so a token seen before sign-in is worthless after it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "onething_session"
LANG_COOKIE = "onething_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 12 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class PageSession:
    """What the session cookie says: a session id, and who signed in (None before sign-in)."""

    sid: str
    username: str | None = None
    password_version: str = ""
    expires: int = 0

    @classmethod
    def anonymous(cls) -> PageSession:
        """A fresh session for a visitor who has not signed in."""
        return cls(secrets.token_urlsafe(18), None, "", int(time.time()) + SESSION_SECONDS)

    @classmethod
    def signed_in(cls, username: str, password_version: str) -> PageSession:
        """A fresh session (new id: no fixation) for a person who just signed in."""
        return cls(secrets.token_urlsafe(18), username, password_version, int(time.time()) + SESSION_SECONDS)


class SessionSigner:
    """Signs and checks session cookies and CSRF tokens with keys derived from one secret."""

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        self._session_key = hmac.new(raw, b"onething/page-session/v1", hashlib.sha256).digest()
        self._csrf_key = hmac.new(raw, b"onething/page-csrf/v1", hashlib.sha256).digest()

    def dump(self, session: PageSession) -> str:
        """The cookie value for a session."""
        payload = json.dumps(
            {
                "sid": session.sid,
                "u": session.username,
                "pv": session.password_version,
                "exp": session.expires,
            },
            separators=(",", ":"),
        ).encode("utf-8")
        body = _b64(payload)
        mac = hmac.new(self._session_key, body.encode("ascii"), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def load(self, value: str | None, now: float | None = None) -> PageSession | None:
        """The session in a cookie value, or None when absent, forged, malformed or expired."""
        if not value or value.count(".") != 1 or len(value) > 1024:
            return None
        body, mac_text = value.split(".")
        expected = hmac.new(self._session_key, body.encode("ascii", "replace"), hashlib.sha256).digest()
        try:
            given = _unb64(mac_text)
            raw = json.loads(_unb64(body))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(expected, given) or not isinstance(raw, dict):
            return None
        sid, user, pv, exp = raw.get("sid"), raw.get("u"), raw.get("pv"), raw.get("exp")
        if not isinstance(sid, str) or not isinstance(exp, int) or not isinstance(pv, str):
            return None
        if user is not None and not isinstance(user, str):
            return None
        if exp < (time.time() if now is None else now):
            return None
        return PageSession(sid, user, pv, exp)

    def csrf_token(self, session: PageSession) -> str:
        """The synchronizer token of a session (forms embed it; posts must send it back)."""
        return _b64(hmac.new(self._csrf_key, session.sid.encode("ascii"), hashlib.sha256).digest())

    def csrf_ok(self, session: PageSession | None, token: str | None) -> bool:
        """Whether a posted token belongs to this session (constant-time compare)."""
        if session is None or not token:
            return False
        return hmac.compare_digest(self.csrf_token(session).encode("ascii"), token.encode("ascii", "replace"))

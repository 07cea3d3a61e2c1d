"""Signed, short-lived bearer tokens (JWT, HS256) and the key that signs them.

The key comes from ``Settings.secret_key``; when that is empty (the embedded default) a
random key is generated on first start and kept in ``data_dir/secret.key`` (mode 0600),
so tokens survive restarts and every process sharing the data folder accepts them.
Two processes starting at once cannot write two keys: the file is made under a temporary
name and linked into place, which fails for the second one, who then reads the first's.

A token names its account, a fingerprint of the account's password hash and the
account's token generation: changing the password or signing out everywhere (which bumps
the generation) ends every token issued before. The account behind a token is checked on
every request (``api.signed_in`` keeps the checked account for at most a second and
forgets it as soon as an account changes in this process), so a disabled account stops
working at once and the generation costs no extra read.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import jwt
from starlette.requests import Request

from engine.people.accounts import AccountView
from engine.storage.settings import Settings
from engine.time.clock import Clock, SystemClock

ALGORITHM = "HS256"
ISSUER = "onething"
AUDIENCE = "onething-api"
MIN_KEY_LENGTH = 32
KEY_FILE = "secret.key"

log = logging.getLogger(__name__)


def client_address(request: Request) -> str:
    """The caller's address as the sign-in throttle counts it (the proxy's own unless uvicorn trusts it)."""
    return request.client.host if request.client else "unknown"


class SigningKeyError(Exception):
    """The configured signing key cannot be used."""


def signing_key(settings: Settings) -> bytes:
    """The token signing key: configured, or generated once and kept in the data folder."""
    if settings.secret_key:
        key = settings.secret_key.encode()
        if len(key) < MIN_KEY_LENGTH:
            raise SigningKeyError(
                f"ONETHING_SECRET_KEY is too short ({len(key)} bytes); "
                f"use at least {MIN_KEY_LENGTH} random bytes"
            )
        return key
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("signing key file %s is readable by others (mode %o); fixing to 0600", path, mode)
        path.chmod(0o600)
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_LENGTH:
        raise SigningKeyError(
            f"{path} holds a key shorter than {MIN_KEY_LENGTH} bytes; remove it to generate a new one"
        )
    return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{KEY_FILE}.{uuid.uuid4().hex}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_urlsafe(48).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
            log.info("generated a new token signing key in %s", path)
        except FileExistsError:
            pass  # another process made the key first: use theirs
    finally:
        temporary.unlink(missing_ok=True)


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says: whose it is, and the password and generation it was issued under."""

    username: str
    password_version: str
    generation: int
    # When the token runs out (seconds since the epoch): a cache of it must not outlive it.
    expires_at: float = 0.0


class TokenService:
    """Issues and verifies the API's bearer tokens."""

    def __init__(self, key: bytes, minutes: int, clock: Clock | None = None) -> None:
        self._key = key
        self.lifetime = timedelta(minutes=minutes)
        self.clock: Clock = clock or SystemClock()

    def issue(self, account: AccountView) -> str:
        """A token for the account, valid for the configured number of minutes."""
        now = self.clock.now()
        claims = {
            "sub": account.username,
            "pwv": account.password_version,
            "gen": account.token_generation,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now - timedelta(seconds=5),
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> TokenClaims | None:
        """The claims of a valid token; None when it is forged, malformed or expired."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["sub", "exp", "iat", "pwv", "gen"]},
            )
        except jwt.InvalidTokenError:
            return None
        username, version, generation = claims.get("sub"), claims.get("pwv"), claims.get("gen")
        if not isinstance(username, str) or not isinstance(version, str) or type(generation) is not int:
            return None
        return TokenClaims(username, version, generation, float(claims["exp"]))

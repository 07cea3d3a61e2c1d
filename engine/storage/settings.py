"""One settings object, read from the environment (``ONETHING_*``) once at start and passed down.

Nothing in the engine reads the environment by itself; tests build a ``Settings`` with the
values they need.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from string import Formatter

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# 办件编码 placeholders: the China-local date of submission, the case id, the bundle key.
CASE_CODE_FIELDS = frozenset({"date", "id", "bundle"})
CASE_CODE_MAX = 64  # cases.code is String(64)
# What a checked pattern is tried on: a long id and a bundle key of a usual length.
_SAMPLE_BUNDLE = "enterprise-startup-x"


def check_case_code_pattern(pattern: str) -> str:
    """The pattern if it makes unique 办件编码 (codes) that fit their column; else ``ValueError`` saying why.

    Checked when the settings load, so a typo stops the process at start instead of
    failing the first application.
    """
    try:
        parts = list(Formatter().parse(pattern))
    except ValueError as exc:
        raise ValueError(f"case_code_pattern {pattern!r} is not a format pattern: {exc}") from exc
    names = [name for _text, name, _spec, _conversion in parts if name is not None]
    unknown = sorted({name for name in names if name not in CASE_CODE_FIELDS})
    if unknown:
        raise ValueError(
            f"case_code_pattern {pattern!r} names {', '.join(repr(n) for n in unknown)}; "
            "only {date}, {id} and {bundle} are known"
        )
    if any(conversion for _text, name, _spec, conversion in parts if name is not None):
        raise ValueError(f"case_code_pattern {pattern!r}: conversions such as !r are not allowed")
    if "id" not in names:
        raise ValueError(
            f"case_code_pattern {pattern!r} must contain {{id}} (e.g. {{id:08d}}) so codes are unique"
        )
    day = date(2099, 12, 31)
    try:
        first = pattern.format(date=day, id=1, bundle=_SAMPLE_BUNDLE)
        longest = pattern.format(date=day, id=10**12 - 1, bundle=_SAMPLE_BUNDLE)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"case_code_pattern {pattern!r} has a format that does not fit its value: {exc}"
        ) from exc
    if first == pattern.format(date=day, id=2, bundle=_SAMPLE_BUNDLE):
        raise ValueError(f"case_code_pattern {pattern!r} gives the same code to different case ids")
    if not first.strip() or len(longest) > CASE_CODE_MAX:
        raise ValueError(
            f"case_code_pattern {pattern!r} gives codes like {longest!r}: "
            f"a code is 1 to {CASE_CODE_MAX} characters"
        )
    return pattern


SQLITE_SYNC_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def check_sqlite_synchronous(level: str) -> str:
    """The level upper-cased if SQLite knows it (``PRAGMA synchronous``), else ``ValueError``."""
    upper = level.strip().upper()
    if upper not in SQLITE_SYNC_LEVELS:
        raise ValueError(f"sqlite_synchronous {level!r} must be one of {', '.join(SQLITE_SYNC_LEVELS)}")
    return upper


def check_division_code(code: str) -> str:
    """The code if it is a GB/T 2260 division code (6 digits; 9 or 12 for 乡镇/街道), else ``ValueError``."""
    if not re.fullmatch(r"[0-9]{6}|[0-9]{9}|[0-9]{12}", code):
        raise ValueError(f"division code {code!r} must be 6, 9 or 12 digits (GB/T 2260)")
    return code


def check_public_url(url: str) -> str:
    """The site's public address without a trailing slash, if it is an http(s) URL with a host."""
    cleaned = url.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", cleaned):
        raise ValueError(f"public_url {url!r} must be an http(s) address such as https://zwfw.example.gov.cn")
    return cleaned


def shipped_processes_dir() -> Path:
    """The folder of bundles that ships with onething (``processes/``)."""
    return PROJECT_ROOT / "processes"


class Settings(BaseSettings):
    """Configuration of one onething process."""

    model_config = SettingsConfigDict(env_prefix="ONETHING_", extra="ignore")

    database_url: str = "sqlite:///onething.db"
    # SQLite only: FULL (the default) also survives an OS crash or power cut, at one fsync per
    # commit; NORMAL survives a killed process but may roll back the last commits (see engine.db).
    sqlite_synchronous: str = "FULL"
    data_dir: Path = Path("var")
    processes_dir: Path = shipped_processes_dir()
    # Holidays and adjusted working days announced after the shipped calendar (an admin's file).
    calendar_overrides: Path | None = None
    # Uploads: one material at most this big unless its kind sets a smaller limit.
    max_upload_bytes: int = 20 * 1024 * 1024
    # Bundles: a zip or diagram above this is refused before parsing.
    max_bundle_bytes: int = 5 * 1024 * 1024
    # Token lifetime for the API (minutes).
    token_minutes: int = 60
    # Signing key; when empty, a random one is generated and kept in data_dir.
    secret_key: str = ""
    # How many deserialized workflows each process keeps warm, and the bytes they may take at
    # most (estimated from their saved state: engine.cases.workflow_cache); a long case weighs
    # far more than a short one, so the byte bound is what keeps a server's memory flat.
    workflow_cache_size: int = 256
    workflow_cache_bytes: int = 64 * 1024 * 1024
    # Seconds between timer/SLA sweeps of the worker.
    worker_interval: float = 2.0
    # Sign-in throttle (engine.sign_in): failures of one username from one client before that
    # pair waits; of one username from all clients together (distributed guessing: high, as
    # it is the one lock an attacker can hold a real user back with); of one client (address)
    # across usernames. The first wait, doubled per further failure up to the cap (the
    # username's own, shorter cap for its username-wide waits); failures are forgotten after
    # a quiet spell this long.
    sign_in_pair_failures: int = 5
    sign_in_account_failures: int = 50
    sign_in_client_failures: int = 30
    sign_in_backoff_seconds: float = 30.0
    sign_in_backoff_max_seconds: float = 900.0
    sign_in_account_backoff_max_seconds: float = 120.0
    sign_in_forget_seconds: float = 3600.0
    # 办件编码 (case code), assigned at submission: {date:%Y%m%d} is the China-local date,
    # {id:08d} the case id (required: it makes codes unique), {bundle} the bundle key.
    case_code_pattern: str = "{date:%Y%m%d}{id:08d}"
    # Webhooks (engine.integration.delivery): whether this process's worker delivers; tries
    # before a delivery is dead-lettered; the HTTP timeout; the first retry's wait, doubled
    # per failure (with jitter) up to the cap; deliveries sent at once; the idle poll.
    webhook_delivery: bool = True
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    webhook_backoff_seconds: float = Field(default=5.0, gt=0)
    webhook_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    webhook_concurrency: int = Field(default=4, ge=1, le=64)
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    # Delivered webhooks (and outbox events no delivery still owes) are forgotten after this.
    webhook_retention_days: float = Field(default=30.0, gt=0)
    # 行政区划 where cases of an unknown or absent division are handled: every department
    # implicitly has an office there, and accounts without a division belong to it.
    default_division: str = "310000"
    # The address people reach this site at (scheme, host, optional path; no trailing slash):
    # the QR codes and printed links on certificates and receipts point there.
    public_url: str = "http://127.0.0.1:8000"

    @field_validator("case_code_pattern")
    @classmethod
    def _case_code_pattern(cls, value: str) -> str:
        return check_case_code_pattern(value)

    @field_validator("sqlite_synchronous")
    @classmethod
    def _sqlite_synchronous(cls, value: str) -> str:
        return check_sqlite_synchronous(value)

    @field_validator("default_division")
    @classmethod
    def _default_division(cls, value: str) -> str:
        return check_division_code(value.strip())

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return check_public_url(value)

    @property
    def materials_dir(self) -> Path:
        """Where content-addressed material bytes live."""
        return self.data_dir / "materials"

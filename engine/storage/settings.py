"""One settings object, read from the environment (``ONETHING_*``) once at start and passed down.

Nothing in the engine reads the environment by itself; tests build a ``Settings`` with the
values they need.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def shipped_processes_dir() -> Path:
    """The folder of bundles that ships with onething (``processes/``)."""
    return PROJECT_ROOT / "processes"


class Settings(BaseSettings):
    """Configuration of one onething process."""

    model_config = SettingsConfigDict(env_prefix="ONETHING_", extra="ignore")

    database_url: str = "sqlite:///onething.db"
    # SQLite only: NORMAL survives a killed process; FULL also an OS crash (see engine.db).
    sqlite_synchronous: str = "NORMAL"
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
    # How many deserialized workflows each process keeps warm.
    workflow_cache_size: int = 256
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

    @property
    def materials_dir(self) -> Path:
        """Where content-addressed material bytes live."""
        return self.data_dir / "materials"

"""Service configuration from ``CLASSBRIDGE_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, FilePath, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Every setting of the service; defaults run on a laptop with SQLite."""

    model_config = SettingsConfigDict(
        env_prefix="CLASSBRIDGE_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(default=Path("./var"), description="Where the SQLite file lives.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; empty means a SQLite file in data_dir.",
    )
    secret_key: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
        description="Signs CSRF tokens. Set it in production so it survives restarts.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str = Field(default="", description="Base URL shown in links and QR codes.")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Extra Origins allowed on websockets (the service's own origin always is).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses of reverse proxies whose X-Forwarded-For is believed.",
    )
    cookie_secure: bool = Field(default=False, description="Mark cookies Secure (behind HTTPS).")
    session_hours: float = Field(default=12.0, gt=0, description="Lifetime of a login session.")
    api_token_hours: float = Field(default=8.0, gt=0, description="Lifetime of an API token.")
    pairing_code_minutes: float = Field(default=10.0, gt=0, le=60)
    heartbeat_seconds: float = Field(default=15.0, gt=0, description="Device heartbeat period.")
    offline_after_missed: int = Field(
        default=3, ge=1, description="Missed heartbeats before a device counts as offline."
    )
    telemetry_retention_days: int = Field(default=30, ge=1)
    audit_retention_days: int = Field(default=400, ge=30)
    rota_retention_days: int = Field(
        default=400, ge=30, description="Days the move rota (who moved what, when) is kept."
    )
    max_body_bytes: int = Field(
        default=6 * 1024 * 1024,
        ge=1024,
        description="Largest request body (room for a 5 MB timetable upload and its form).",
    )
    login_attempts_per_minute: int = Field(
        default=30,
        ge=1,
        description="Failed sign-ins or pairings a minute from one address (a school or ward).",
    )
    login_attempts_per_account: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins per account (email or pupil code) in the account window.",
    )
    login_account_window_minutes: int = Field(
        default=15, ge=1, le=24 * 60, description="The window of the per-account limit."
    )
    session_join_before_minutes: float = Field(
        default=5.0, ge=0, le=60, description="How early before a lesson pupils may join."
    )
    session_grace_minutes: float = Field(
        default=5.0, ge=0, le=60, description="How long after a lesson's end its session lasts."
    )
    stun_urls: list[str] = Field(
        default_factory=list, description="STUN servers for sessions (none on a LAN)."
    )
    turn_urls: list[str] = Field(
        default_factory=list,
        description="TURN servers, e.g. turns:turn.example:443?transport=tcp.",
    )
    turn_secret: SecretStr | None = Field(
        default=None, description="coturn static-auth-secret (TURN REST credentials)."
    )
    relay_max_viewers: int = Field(
        default=2,
        ge=0,
        le=8,
        description="Hospital staff who may watch one lesson through the server's relay (0: off).",
    )
    week_cache_mb: int = Field(
        default=32,
        ge=0,
        le=4096,
        description="Memory for pupils' weeks of lessons kept as answered (MB; 0: none kept).",
    )
    rota_reminder_minutes: float = Field(
        default=10.0, ge=0, le=120, description="How long before a move its assistant is reminded."
    )
    rota_escalation_minutes: float = Field(
        default=5.0,
        ge=0,
        le=120,
        description="How long before a move is due an unconfirmed one is escalated.",
    )
    engagement_attended_share: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Share of a lesson a pupil must be present for it to count as attended.",
    )
    engagement_drop_margin: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Fall in attendance share (last 2 weeks against the 4 before) that alerts.",
    )
    engagement_recompute_days: int = Field(
        default=14,
        ge=1,
        le=120,
        description="Days of finished lessons whose outcomes the nightly job computes again.",
    )
    engagement_nightly_hour: int = Field(
        default=2,
        ge=0,
        le=23,
        description="Hour (UTC) from which the nightly engagement job (outcomes, alerts) runs.",
    )
    run_jobs: bool = Field(default=True, description="Run timed jobs in this instance.")
    leader_check_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How often a follower tries to lead and the leader looks for new jobs.",
    )
    job_misfire_grace_seconds: int = Field(
        default=3600, ge=1, description="How late a dated job may still run after a restart."
    )
    smtp_host: str = Field(default="", description="SMTP server; empty means no email.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="STARTTLS, implicit TLS, or plain (a local relay)."
    )
    smtp_ca_file: FilePath | None = Field(
        default=None,
        description="A PEM file of CA certificates to trust for the SMTP server, besides the "
        "system's (a private CA).",
    )
    smtp_verify_certificate: bool = Field(
        default=True,
        description="Verify the SMTP server's certificate and name. False only for a server "
        "you cannot give a trusted certificate: the password could go to anyone.",
    )
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(
        default="Classbridge <classbridge@localhost>", description="The From of every email."
    )
    smtp_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    smtp_attempts: int = Field(
        default=6, ge=1, le=10, description="Tries per email before it is recorded as failed."
    )
    smtp_retry_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Wait before an email's second try; doubling for each later one (30 min "
        "at most).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token Prometheus sends to /metrics (and for /readyz's details); "
        "unset: /metrics answers 404.",
    )
    shutdown_seconds: float = Field(
        default=8.0,
        ge=1,
        le=60,
        description="After SIGTERM the process ends within this many seconds, whatever is "
        "still running (sockets are told to reconnect elsewhere at once).",
    )
    log_level: str = "INFO"
    log_json: bool = Field(default=True, description="JSON logs (False: human-readable).")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return level

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to ``<data_dir>/classbridge.sqlite3``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'classbridge.sqlite3').resolve()}"

    @property
    def base_url(self) -> str:
        """The URL people reach the service at, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

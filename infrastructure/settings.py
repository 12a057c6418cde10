"""The one typed settings object (PRODUCT.md §7), read once from ``PULSE_*`` variables.

Secrets are ``SecretStr`` so that they print as ``**********`` in reprs, logs and errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PULSE_", extra="ignore", frozen=True)

    mongodb_url: SecretStr | None = Field(
        default=None, description="MongoDB connection string; unset starts the embedded store"
    )
    mongodb_db: str = "pulse"
    redis_url: SecretStr | None = Field(
        default=None, description="Redis for broadcast channels; unset = in-process broadcast"
    )
    data_dir: Path = Path(".pulse")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    odoo_url: str | None = None
    odoo_db: str | None = None
    odoo_login: str | None = None
    odoo_api_key: SecretStr | None = None
    odoo_protocol: Literal["auto", "json2", "jsonrpc"] = "auto"

    sync_interval: float = Field(default=300, ge=0, description="seconds; 0 = off")
    webhook_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    jwt_secret: SecretStr | None = None
    jwt_public_key: SecretStr | None = None
    admin_emails: Annotated[frozenset[str], NoDecode] = frozenset()
    access_ttl: float = Field(default=300, gt=0)

    # Additions beyond the contract: operational knobs with safe defaults.
    graphiql: bool = True
    log_level: str = "INFO"
    # When set, tokens must carry this `aud` / `iss` (an identity provider shared by several
    # services issues tokens for all of them: the audience keeps theirs out of Pulse).
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    # False: `pulse serve` is an API-only replica (reads, pushes, webhooks, admin commands)
    # and leaves folding events to `pulse worker` processes; pushes then need Redis.
    projections: bool = True
    # How long a sync whose process died keeps the single-run lock (it heartbeats per page).
    sync_lease: float = Field(default=60, ge=5, le=3600, description="seconds")

    @field_validator("admin_emails", mode="before")
    @classmethod
    def _split_emails(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(e.strip().lower() for e in value.split(",") if e.strip())
        if isinstance(value, list | set | frozenset | tuple):
            return frozenset(str(e).strip().lower() for e in value if str(e).strip())
        return value

    @property
    def embedded(self) -> bool:
        return self.mongodb_url is None

    @property
    def odoo_configured(self) -> bool:
        return bool(self.odoo_url and self.odoo_db and self.odoo_login and self.odoo_api_key)


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]

"""Every knob of the service, read once from the environment.

``DATABASE_URL`` keeps its conventional name; everything else is prefixed
``BOOKSTORE_`` so it cannot collide with other tools' variables.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKSTORE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "BOOKSTORE_DATABASE_URL"),
        description="PostgreSQL DSN; when unset the embedded server is used.",
    )
    data_dir: Path = Field(
        default=Path(".bookstore"),
        description="Where the embedded PostgreSQL keeps its files.",
    )
    database_name: str = Field(
        default="bookstore", description="Database created on the embedded server."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed by CORS, e.g. https://shop.example.",
    )
    pool_min_size: int = 2
    pool_max_size: int = 10
    cursor_secret: str = Field(
        default="bookstore-cursor",
        description="Key that signs pagination cursors so a tampered one is refused.",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    def model_post_init(self, __context: object) -> None:
        self.data_dir = self.data_dir.expanduser().resolve()


@lru_cache
def get_settings() -> Settings:
    """The settings of this process; cached because the environment is read once."""
    return Settings()

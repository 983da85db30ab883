"""Registers the catalog tables and the top-level ``piccolo_migrations`` folder."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from bookstore.tables import TABLES

MIGRATIONS_FOLDER = Path(__file__).resolve().parent.parent / "piccolo_migrations"

APP_CONFIG = AppConfig(
    app_name="bookstore",
    migrations_folder_path=str(MIGRATIONS_FOLDER),
    table_classes=list(TABLES),
    migration_dependencies=[],
    commands=[],
)

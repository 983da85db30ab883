"""Piccolo's configuration: the same database as the service.

``piccolo migrations forwards bookstore`` and ``piccolo user create`` read
this module, so they act on ``DATABASE_URL`` when it is set and on the
embedded server (started if needed) otherwise.
"""

from piccolo.conf.apps import AppRegistry

from bookstore.database import create_engine, resolve_dsn

DB = create_engine(resolve_dsn())

APP_REGISTRY = AppRegistry(apps=["bookstore.piccolo_app"])

"""Piccolo's configuration: the same database as the service.

``piccolo migrations forwards all`` and ``piccolo user create`` read this
module, so they act on ``DATABASE_URL`` when it is set and on the embedded
server (started if needed) otherwise.

Besides the catalog, two of Piccolo's own apps are registered because Piccolo
Admin needs their tables: ``user`` (``piccolo_user``: staff accounts) and
``session_auth`` (``sessions``: login sessions). ``bookstore migrate`` and
``bookstore serve`` apply their migrations with ours.
"""

from piccolo.conf.apps import AppRegistry

from bookstore.database import create_engine, resolve_dsn

DB = create_engine(resolve_dsn())

APP_REGISTRY = AppRegistry(
    apps=[
        "bookstore.piccolo_app",
        "piccolo.apps.user.piccolo_app",
        "piccolo_api.session_auth.piccolo_app",
    ]
)

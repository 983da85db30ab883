"""The ``bookstore`` command: serve, migrate, seed, and manage the embedded database.

Each subcommand resolves the database first (``DATABASE_URL``, or the
embedded server, started on demand) and exports it as ``DATABASE_URL`` so
that piccolo_conf.py and any worker processes use the same one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from bookstore.database import embedded_server, resolve_dsn
from bookstore.settings import get_settings

T = TypeVar("T")


def _use_database() -> str:
    dsn = resolve_dsn()
    os.environ["DATABASE_URL"] = dsn
    get_settings.cache_clear()
    return dsn


def _with_engine(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` on an event loop with Piccolo's engine and a small pool."""

    async def run() -> T:
        from piccolo.engine import engine_finder

        engine = await asyncio.to_thread(engine_finder)
        await engine.start_connection_pool(min_size=1, max_size=4)
        try:
            return await work()
        finally:
            await engine.close_connection_pool()

    return asyncio.run(run())


async def _migrate() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="all")
    if not result.success:
        raise SystemExit(f"migrations failed: {result.message}")


def migrate(args: argparse.Namespace) -> None:
    """Apply pending migrations of every app in piccolo_conf.py."""
    _use_database()
    asyncio.run(_migrate())


def serve(args: argparse.Namespace) -> None:
    """Migrate, optionally load the demo catalog, then run uvicorn."""
    import uvicorn

    dsn = _use_database()
    asyncio.run(_migrate())
    if args.demo:
        _with_engine(_load_demo_if_empty)
    print(f"Database: {_redacted(dsn)}", flush=True)
    uvicorn.run(
        "bookstore.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
    )


async def _load_demo_if_empty() -> None:
    from bookstore.seed import catalog_is_empty, seed_demo

    if await catalog_is_empty():
        count = await seed_demo()
        print(f"Loaded the demo catalog: {count} books.", flush=True)


def seed(args: argparse.Namespace) -> None:
    """Fill the catalog with the demo books or a synthetic catalog of N books."""
    import time

    from bookstore import seed as seeding

    _use_database()

    async def run() -> str:
        if not await seeding.catalog_is_empty():
            if not args.replace:
                raise SystemExit("the catalog is not empty; add --replace to start over")
            await seeding.clear_catalog()
        if args.demo:
            return f"{await seeding.seed_demo()} demo books"
        result = await seeding.seed_synthetic(args.books, seed=args.seed)
        return (
            f"{result.books} books, {result.authors} authors, "
            f"{result.categories} categories, {result.links} links"
        )

    started = time.perf_counter()
    summary = _with_engine(run)
    print(f"Seeded {summary} in {time.perf_counter() - started:.1f} s.")


def db_url(args: argparse.Namespace) -> None:
    """Print the DSN, for psql and GUI tools."""
    print(_use_database())


def db_stop(args: argparse.Namespace) -> None:
    """Stop the embedded server (it keeps running between commands otherwise)."""
    settings = get_settings()
    if settings.database_url:
        raise SystemExit("DATABASE_URL is set: there is no embedded server to stop")
    stopped = embedded_server(settings).stop()
    print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


def _redacted(dsn: str) -> str:
    """The DSN with its password, if any, replaced: safe to print and log."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bookstore", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help=serve.__doc__)
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--workers", type=_positive, default=1)
    serve_parser.add_argument("--log-level", default="info")
    serve_parser.add_argument(
        "--demo", action="store_true", help="load the demo catalog when there are no books"
    )
    serve_parser.set_defaults(handler=serve)

    commands.add_parser("migrate", help=migrate.__doc__).set_defaults(handler=migrate)

    seed_parser = commands.add_parser("seed", help=seed.__doc__)
    what = seed_parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--demo", action="store_true", help="the shipped catalog of real books")
    what.add_argument(
        "--books", type=_positive, metavar="N", help="a synthetic catalog of N books"
    )
    seed_parser.add_argument("--seed", type=int, default=42, help="random seed for --books")
    seed_parser.add_argument(
        "--replace", action="store_true", help="empty a non-empty catalog first"
    )
    seed_parser.set_defaults(handler=seed)

    db_parser = commands.add_parser("db", help="the database in use")
    db_commands = db_parser.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("url", help=db_url.__doc__).set_defaults(handler=db_url)
    db_commands.add_parser("stop", help=db_stop.__doc__).set_defaults(handler=db_stop)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main(sys.argv[1:])

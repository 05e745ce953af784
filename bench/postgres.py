"""A private PostgreSQL cluster for a benchmark, never the machine's own: ``initdb`` into a
scratch directory, the server on 127.0.0.1 on a free port with its own socket directory and trust
authentication, stopped by its pid, its directory removed afterwards."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.children import Process, as_user, clean_env, free_port, pinned
from bench.load import ProcessTree

# Debian's packages put the server's binaries here, one directory per major version, off PATH.
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
# PostgreSQL refuses to run as root; as root, the server runs as the first of these that exists.
ACCOUNTS = ("postgres", "nobody")
USER = "postgres"  # the cluster's superuser, as initdb names it
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def find_binaries() -> Path:
    """The directory holding ``initdb`` and ``postgres``: on PATH, else Debian's newest."""
    on_path = shutil.which("initdb")
    if on_path and (Path(on_path).parent / "postgres").exists():
        return Path(on_path).parent
    versions = [d for d in DEBIAN_BINARIES.glob("*/bin") if (d / "initdb").exists()]
    versions.sort(key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)
    if not versions or not (versions[-1] / "postgres").exists():
        raise RuntimeError(
            "PostgreSQL's initdb and postgres were not found (not on PATH, nor in "
            f"{DEBIAN_BINARIES}/*/bin): apt-get install postgresql"
        )
    return versions[-1]


def _account() -> tuple[int, int] | None:
    """Whom the server runs as (uid, gid): ourselves, unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ACCOUNTS:
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise RuntimeError(
        f"PostgreSQL refuses to run as root, and none of {', '.join(ACCOUNTS)} exists to run it as"
    )


class PostgresProcess:
    """One throw-away cluster; ``url`` reaches its ``postgres`` database as its superuser."""

    def __init__(self, *, cores: str | None = None) -> None:
        self.binaries = find_binaries()  # fails at once, before anything slow is set up
        self.cores = cores
        self.port = free_port()
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"
        self.root: Path | None = None
        self.process: Process | None = None

    def start(self) -> None:
        account = _account()
        # Not under the benchmark's scratch directory: that one is 0700 and ours, and the server
        # may run as another account.
        self.root = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
        data, sockets = self.root / "data", self.root / "sockets"
        sockets.mkdir()
        if account is not None:
            for path in (self.root, sockets):
                os.chown(path, *account)
        env = clean_env(LC_ALL="C")
        done = subprocess.run(
            [
                str(self.binaries / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            capture_output=True,
            cwd=self.root,
            env=env,
            timeout=120,
            check=False,
            **as_user(account),
        )
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"initdb failed: {' / '.join(tail)}")
        # Only loopback TCP, and the socket in our directory rather than the system's.
        argv = [str(self.binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1",
                "-p", str(self.port), "-k", str(sockets)]  # fmt: skip
        self.process = Process(
            "postgres", pinned(self.cores, argv), env=env, cwd=self.root, user=account
        )
        process = self.process
        process.wait_for(
            lambda: "ready to accept connections" in process.log(), "start", timeout=60
        )

    def cpu_seconds(self) -> float:
        """The cluster's CPU: its live processes', and what the backends that have exited spent
        (reaped by the postmaster, so in its cutime and cstime)."""
        if self.process is None:
            return 0.0
        live = ProcessTree(self.process.pid).cpu_seconds()
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            live += (int(fields[13]) + int(fields[14])) / _CLOCK_TICKS  # cutime, cstime
        return live

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()  # SIGTERM: a smart shutdown, its clients already gone
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

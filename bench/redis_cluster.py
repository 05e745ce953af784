"""A throwaway Redis Cluster on loopback: three (or more) ``redis-server --cluster-enabled yes``
joined by ``redis-cli --cluster create``, stopped by their PIDs. The tests' cluster, and the
benchmark's (``ours-cluster``)."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from bench.children import pinned
from bench.processes import stop_process

MISSING = (
    "redis-server and redis-cli are needed for the Redis Cluster tests: "
    "run `make test` (it installs Debian's redis-server, which brings both)."
)

# A node's cluster bus listens on its port + 10000, which must be free and below 65536 too.
_BUS_OFFSET = 10000


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_ports(count: int) -> list[int]:
    """``count`` ports that, with their bus ports, were free a moment ago."""
    found: list[int] = []
    while len(found) < count:
        port = random.randrange(20000, 55000 - _BUS_OFFSET)
        if port in found or port + _BUS_OFFSET in found:
            continue
        if _bindable(port) and _bindable(port + _BUS_OFFSET):
            found.append(port)
    return found


@dataclass
class RedisCluster:
    """``masters`` shards, each with ``replicas_per_master`` replicas; ``node_timeout_ms`` is how
    long a master may be silent before its replica takes over (short, for failover tests)."""

    masters: int = 3
    replicas_per_master: int = 0
    node_timeout_ms: int = 1000
    cores: str | None = None  # taskset list for the nodes (the benchmark keeps them apart)
    ports: list[int] = field(default_factory=list)
    _procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    _dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="redis-cluster-")))

    @property
    def url(self) -> str:
        """A URL at one node: the cluster client finds the others from it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            raise RuntimeError(MISSING)
        self.ports = cluster_ports(self.masters * (1 + self.replicas_per_master))
        for port in self.ports:
            self.start_node(port, server)
        for port in self.ports:
            self._wait_answering(port)
        created = subprocess.run(
            [
                cli, "--cluster", "create",
                *(f"127.0.0.1:{p}" for p in self.ports),
                "--cluster-replicas", str(self.replicas_per_master),
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
        if created.returncode != 0:
            self.stop()
            raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout[-2000:]}")
        self.wait_ok(self.ports)
        self._wait_replicas_in_sync()

    def _wait_replicas_in_sync(self, limit: float = 30.0) -> None:
        # A replica that never finished its first sync may not take over: its data is too old.
        deadline = time.monotonic() + limit
        while True:
            links = []
            for port in self.ports:
                client = redis.Redis(port=port, socket_connect_timeout=0.2)
                try:
                    info = client.info("replication")
                finally:
                    client.close()
                if info.get("role") == "slave":
                    links.append(info.get("master_link_status") == "up")
            if len(links) == self.masters * self.replicas_per_master and all(links):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replicas of the cluster on {self.ports} did not sync")
            time.sleep(0.05)

    def start_node(self, port: int, server: str | None = None) -> None:
        exe = server or shutil.which("redis-server")
        if exe is None:
            raise RuntimeError(MISSING)
        node_dir = self._dir / str(port)
        node_dir.mkdir(exist_ok=True)
        self._procs[port] = subprocess.Popen(
            pinned(self.cores, [
                exe,
                "--bind", "127.0.0.1",
                "--port", str(port),
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(node_dir / "nodes.conf"),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(node_dir),
                "--protected-mode", "no",
            ]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def _wait_answering(self, port: int) -> None:
        deadline = time.monotonic() + 10
        client = redis.Redis(port=port, socket_connect_timeout=0.2)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    proc = self._procs[port]
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server did not start on {port}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def wait_ok(self, ports: list[int], limit: float = 30.0) -> None:
        """Until every node in ``ports`` says ``cluster_state:ok`` and knows every node."""
        deadline = time.monotonic() + limit
        while True:
            if all(self._node_ok(port) for port in ports):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the cluster on {self.ports} did not reach cluster_state:ok")
            time.sleep(0.05)

    def _node_ok(self, port: int) -> bool:
        client = redis.Redis(port=port, socket_connect_timeout=0.2)
        try:
            info = client.execute_command("CLUSTER", "INFO").decode()
            known = int(info.split("cluster_known_nodes:", 1)[1].split("\r\n", 1)[0])
            return "cluster_state:ok" in info and known == len(self.ports)
        except redis.RedisError:
            return False
        finally:
            client.close()

    def masters_ports(self) -> list[int]:
        """The ports of the nodes that are masters now."""
        out = []
        for port in self.ports:
            if port not in self._procs:
                continue
            client = redis.Redis(port=port, socket_connect_timeout=0.2)
            try:
                if client.info("replication").get("role") == "master":
                    out.append(port)
            except redis.RedisError:
                pass
            finally:
                client.close()
        return out

    def flush(self) -> None:
        """Empty every master (each holds its own slots' keys)."""
        for port in self.masters_ports():
            client = redis.Redis(port=port)
            try:
                client.flushall()
            finally:
                client.close()

    def kill(self, port: int) -> None:
        """``kill -9`` one node, as a crash would."""
        proc = self._procs.pop(port)
        proc.kill()
        proc.wait(5)

    def stop(self) -> None:
        for proc in self._procs.values():
            stop_process(proc)
        self._procs.clear()
        shutil.rmtree(self._dir, ignore_errors=True)

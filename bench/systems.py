"""The systems ``bench.stream`` measures, and starting and stopping the servers among them."""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import aegra
from bench.children import Process, RedisProcess, answers_200, clean_env, free_port, pinned
from bench.postgres import PostgresProcess
from bench.redis_cluster import RedisCluster

# Where the server keeps its Redis keys, so that bench.log_cost finds the run logs (issue 13).
LOG_PREFIX = "agent"
AEGRA_VERSION = aegra.AEGRA_API.partition("==")[2]


@dataclass(frozen=True)
class System:
    name: str
    label: str
    kind: str  # "ours", "langgraph", "aegra" or a bench.floors mode
    workers: int = 1
    scenarios: tuple[str, ...] = ("single", "c1", "c50", "c200", "c500")  # by default
    redis: bool = False  # memory in a redis-server the benchmark starts, instead of SQLite
    cluster: bool = False  # memory in a three-master Redis Cluster the benchmark starts
    all_cores: bool = False  # not pinned to --server-cores: free to use every core
    env: tuple[tuple[str, str], ...] = ()  # settings on top of the common ones
    source: Path | None = None  # the tree it runs, when not --repo (a baseline's export)
    mirrors: str | None = None  # for a baseline twin: the system it runs the old code of
    revision: str | None = None  # for a baseline twin: its short commit

    @property
    def is_server(self) -> bool:
        return self.kind in ("ours", "langgraph", "aegra")


SYSTEMS = {
    s.name: s
    for s in (
        System(
            "ours",
            "ours (python -m app)",
            "ours",
            # c500 (overload) last: what it leaves behind must not count against the others.
            scenarios=(
                "single",
                "c1",
                "c50",
                "c200",
                "h150",
                "h200",
                "agent50",
                "lg50",
                "ai50",
                "agui50",
                "c500",
            ),
        ),
        # langchain's stock ChatOpenAI in place of our fast client (issue 10); a tree without
        # the setting ignores it and runs its only client.
        System(
            "ours-stock",
            "ours, MODEL_CLIENT=stock (ChatOpenAI)",
            "ours",
            env=(("MODEL_CLIENT", "stock"),),
            scenarios=("c50", "c200"),
        ),
        # Scale-out as deployed: processes sharing Redis. WORKERS=1 and WORKERS=2 on the same
        # Redis; the two workers get both cores (the load generator and stand-in keep theirs).
        System(
            "ours-redis",
            "ours, Redis, WORKERS=1",
            "ours",
            redis=True,
            scenarios=("c50", "c200", "h150", "h200", "lg50"),
        ),
        # Every store on a three-master Redis Cluster (issue 22), beside ours-redis at c50.
        System(
            "ours-cluster",
            "ours, Redis Cluster (3 masters), WORKERS=1",
            "ours",
            cluster=True,
            scenarios=("c50",),
        ),
        System(
            "ours-w2",
            "ours, Redis, WORKERS=2 (all cores)",
            "ours",
            workers=2,
            redis=True,
            all_cores=True,
            scenarios=("c50", "c200", "h150", "h200"),
        ),
        System(
            "langgraph",
            "langgraph dev (n-jobs 256)",
            "langgraph",
            scenarios=("single", "c1", "c50", "c200", "agent50", "lg50", "c500"),
        ),
        # Aegra on a private PostgreSQL (bench.aegra, issue 20); c50 is its stateless
        # /runs/stream. The cluster's CPU is reported beside its rows, not in them.
        System(
            "aegra",
            f"Aegra {AEGRA_VERSION} (aegra-api, PostgreSQL)",
            "aegra",
            scenarios=("c50", "lg50"),
        ),
        System("astream", "ChatOpenAI.astream, in-process", "astream"),
        System("fast", "FastChatOpenAI.astream, in-process", "fast"),
        System("graph", "graph.astream(messages), in-process", "graph"),
        System("raw", "raw httpx + orjson, in-process", "raw"),
    )
}
DEFAULT_SYSTEMS = (
    "ours",
    "ours-stock",
    "ours-redis",
    "ours-w2",
    "langgraph",
    "aegra",
    "astream",
    "fast",
    "raw",
)
QUICK_SYSTEMS = ("ours", "ours-stock", "langgraph", "astream", "fast", "raw")


def link_sources(repo: Path, home: Path) -> None:
    """Give ``langgraph dev`` in ``home`` what it may load by path from ``repo``: every top-level
    module or directory holding Python code, and whatever ``langgraph.json``'s graphs name.

    Linking them all, not just ``graphs``, keeps the system working when a module moves between
    top-level packages (say the Studio export to ``studio/``). The links keep the code live; the
    config is copied, since ``langgraph dev`` writes ``.langgraph_api`` beside it.
    """
    config = json.loads((repo / "langgraph.json").read_text())
    named: set[str] = set()
    for spec in config.get("graphs", {}).values():
        path = spec.get("path", "") if isinstance(spec, dict) else spec
        parts = Path(path.rsplit(":", 1)[0]).parts  # "./graphs/studio.py" -> graphs, studio.py
        if parts:
            named.add(parts[0])
    for entry in sorted(repo.iterdir()):
        if entry.name.startswith((".", "__")) or entry.name == "langgraph.json":
            continue
        if entry.is_dir():
            code = next(entry.rglob("*.py"), None) is not None
        else:
            code = entry.suffix == ".py"
        if code or entry.name in named:
            (home / entry.name).symlink_to(entry)
    shutil.copy(repo / "langgraph.json", home / "langgraph.json")


@contextlib.contextmanager
def server(
    system: System, repo: Path, upstream: str, workdir: Path, cores: str | None, client_cores: str
) -> Iterator[tuple[Process, str, RedisProcess | PostgresProcess | None]]:
    """Start a server under test; yields it, its streaming URL and its store (redis-server or
    PostgreSQL), if it has one. A store's CPU is not in the server's figures: it is another
    process, on ``client_cores``."""
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix=f"{system.name}-", dir=workdir))  # one per start
    repo = system.source or repo
    common = {"OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": f"{upstream}/v1", **dict(system.env)}
    store: RedisProcess | PostgresProcess | None = None
    if system.all_cores:
        cores = None
    with contextlib.ExitStack() as stack:
        ready_timeout = 90.0
        if system.kind == "ours":
            memory = {"SQLITE_PATH": str(home / "checkpoints.sqlite")}
            if system.redis:
                store = RedisProcess(home, persist=False, cores=client_cores)
                stack.callback(store.stop)
                store.start()
                memory = {"REDIS_URL": store.url, "REDIS_KEY_PREFIX": LOG_PREFIX}
            if system.cluster:
                # Its nodes' CPU is not counted (no store is yielded): the server's is the figure.
                cluster = RedisCluster(cores=client_cores)
                stack.callback(cluster.stop)
                cluster.start()
                memory = {"REDIS_URL": cluster.url, "REDIS_CLUSTER": "true"}
            env = clean_env(
                **common,
                **memory,
                HOST="127.0.0.1",
                PORT=str(port),
                WORKERS=str(system.workers),
                LOG_LEVEL="warning",
                PYTHONPATH=str(repo),
            )
            argv = pinned(cores, [sys.executable, "-m", "app"])
            ready, stream = f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{port}/stream"
        elif system.kind == "aegra":
            store = PostgresProcess(cores=client_cores)  # finds its binaries, or says why not
            python = aegra.ensure_venv(repo)
            stack.callback(store.stop)
            store.start()
            # As for langgraph dev: the config's paths and "dependencies" resolve against it.
            link_sources(repo, home)
            env = clean_env(
                **common,
                **aegra.server_env(store.url, home / "langgraph.json"),
                PYTHONPATH=str(repo),
            )
            argv = pinned(cores, aegra.server_argv(python, port))
            ready, stream = f"http://127.0.0.1:{port}/ready", f"http://127.0.0.1:{port}/runs/stream"
            ready_timeout = 180.0  # its database migrations run at start-up
        else:
            # langgraph dev resolves graph paths against its cwd and writes .langgraph_api there.
            link_sources(repo, home)
            env = clean_env(
                **common,
                LANGSMITH_TRACING="false",
                LANGGRAPH_CLI_NO_ANALYTICS="1",
                PYTHONPATH=str(repo),
            )
            cli = str(Path(sys.executable).with_name("langgraph"))
            argv = pinned(
                cores,
                [
                    cli,
                    "dev",
                    "--config",
                    "langgraph.json",
                    "--no-browser",
                    "--no-reload",
                    "--port",
                    str(port),
                    "--n-jobs-per-worker",
                    "256",
                    "--server-log-level",
                    "WARNING",
                ],
            )
            ready, stream = f"http://127.0.0.1:{port}/ok", f"http://127.0.0.1:{port}/runs/stream"
        process = Process(system.name, argv, env=env, cwd=home)
        stack.callback(process.stop)  # before the store's: callbacks run last in, first out
        process.wait_for(lambda: answers_200(ready), f"GET {ready} 200", timeout=ready_timeout)
        yield process, stream, store

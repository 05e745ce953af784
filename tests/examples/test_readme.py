"""The README, as a newcomer uses it: every ``bash`` and ``python`` block runs as pasted, in the
README's order, against a live ``python -m app`` started as ``make run`` starts it (the offline
model, SQLite memory, no credentials), only on a free port instead of 8000. The sample output
of the quick start is what that server prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from tests.support.ports import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
# Blocks that start or set up the server itself: the test has done that.
SETUP = re.compile(r"^make (run|test)$")
TIMEOUT = 90


@dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int  # where it starts in the README, for failure messages

    def against(self, port: int) -> str:
        return re.sub(r"(localhost|127\.0\.0\.1):8000", f"127.0.0.1:{port}", self.text)


def blocks() -> list[Block]:
    text = README.read_text()
    return [
        Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in BLOCK.finditer(text)
    ]


def runnable() -> list[Block]:
    """The shell and Python blocks, less those that only start the server."""
    found = [b for b in blocks() if b.language in ("bash", "python")]
    return [b for b in found if not all(SETUP.match(line) for line in b.text.splitlines())]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """``python -m app`` with nothing configured, as after ``make run``."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "REDIS_", "API_KEYS", "USER_API_KEYS", "JWT_"))
    }
    env.update(
        PORT=str(port),
        SQLITE_PATH=str(tmp_path / "checkpoints.sqlite"),
        LOG_LEVEL="warning",
        PYTHONPATH=str(ROOT),
    )
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        # cwd is the test's own folder, so no developer .env is read.
        proc = subprocess.Popen(
            [sys.executable, "-m", "app"], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
        try:
            wait_until_serving(f"http://127.0.0.1:{port}/health", proc, log, 30)
            yield port
        finally:
            proc.kill()
            proc.wait()


def _run(block: Block, port: int, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    code = block.against(port)
    if block.language == "python":
        script = tmp_path / f"block-{block.line}.py"
        script.write_text(code)
        argv = [sys.executable, str(script)]
    else:
        argv = ["bash", "-c", code]
    env = {**os.environ, "PATH": f"{ROOT / '.venv/bin'}:{os.environ['PATH']}"}
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def test_the_readme_has_the_blocks_a_newcomer_runs() -> None:
    """The quick start's curl, the agent turn, the approval and the SDK script are all there."""
    texts = "\n".join(b.text for b in runnable())
    for expected in ('"threadId": "thread-001"', "What is 17*23?", '"resume": "approve"'):
        assert expected in texts
    assert any(b.language == "python" and "get_client" in b.text for b in runnable())


def test_every_shell_and_python_block_runs_as_pasted(server: int, tmp_path: Path) -> None:
    """Each block, in order, exits 0 and answers without an error envelope or error frame."""
    failures: list[str] = []
    outputs: dict[int, str] = {}
    for block in runnable():
        done = _run(block, server, tmp_path)
        outputs[block.line] = done.stdout
        refused = '"error":{' in done.stdout.replace(" ", "") or "event: error" in done.stdout
        if done.returncode != 0 or refused or not done.stdout.strip():
            failures.append(
                f"README line {block.line} ({block.language}) exited {done.returncode}:\n"
                f"{block.text}\n--- stdout\n{done.stdout[-1500:]}\n--- stderr\n"
                f"{done.stderr[-1500:]}"
            )
    assert failures == [], "\n\n".join(failures)
    _the_sample_output_is_what_the_server_printed(outputs)


def _final(frames: str) -> tuple[int, str, str]:
    """The id, the text and the data of the ``final`` frame in ``frames`` (a sample may elide
    parts of the data with an ellipsis; its text is whole)."""
    match = re.search(r"^id: (\d+)\nevent: final\ndata: (.*)$", frames, re.M)
    assert match is not None, frames[-500:]
    text = re.match(r'\{"text":("(?:[^"\\]|\\.)*")', match.group(2))
    assert text is not None, match.group(2)[:200]
    return int(match.group(1)), orjson.loads(text.group(1)), match.group(2)


def _the_sample_output_is_what_the_server_printed(outputs: dict[int, str]) -> None:
    """Every sample stream after a block (``retry:`` first) is what that block printed: the same
    opening frames, the same final frame's id and text; the quick start's, its metadata too."""
    all_blocks = blocks()
    samples = [
        (block, all_blocks[i + 1])
        for i, block in enumerate(all_blocks[:-1])
        if block.line in outputs and all_blocks[i + 1].text.startswith("retry: ")
    ]
    assert len(samples) >= 2, "the quick start's and the agent's sample streams"
    for curl, sample in samples:
        printed = outputs[curl.line]
        opening = sample.text.split("...")[0]
        if "…" not in opening:  # ids elided with an ellipsis differ from run to run
            assert printed.startswith(opening), (curl.line, printed[: len(opening) + 200])
        assert printed.startswith("retry: 1000\nid: 1\n")
        sample_id, sample_text, sample_data = _final(sample.text)
        printed_id, printed_text, printed_data = _final(printed)
        assert (sample_id, sample_text) == (printed_id, printed_text), curl.line
        if '"req-001"' in curl.text:  # the quick start's: its metadata whole, timings aside
            sample_meta = orjson.loads(sample_data)["metadata"]
            printed_meta = orjson.loads(printed_data)["metadata"]
            assert {k: v for k, v in sample_meta.items() if k != "timings"} == {
                k: v for k, v in printed_meta.items() if k != "timings"
            }

"""The README's recipe for adding a version, followed on a temporary registry."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import Settings, create_app
from graphs import Registry, Version
from graphs.catalog import VERSIONS, build_registry
from graphs.streaming_chat import v1_0_0
from studio.exports import factories, langgraph_config
from tests.support.live_server import serving

ROOT = Path(__file__).resolve().parents[2]
# A version the shipped catalog does not have yet, whatever it has: one minor past the newest.
_NEWEST = build_registry().versions("streaming-chat")[-1].version
NEW = Version(_NEWEST.major, _NEWEST.minor + 1, 0)
REF = f"streaming-chat::{NEW}"
ATTRIBUTE = f"streaming_chat__{NEW.major}_{NEW.minor}_{NEW.patch}"


@pytest.fixture
def new_version_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Step 1: a copy of streaming-chat 1.1.0 as the new version, its default mark left off."""
    source = (ROOT / "graphs/streaming_chat/v1_1_0.py").read_text()
    module = source.replace("Version(1, 1, 0)", f"Version({NEW.major}, {NEW.minor}, 0)")
    module = "\n".join(line for line in module.splitlines() if "default=True" not in line)
    assert module != source
    (tmp_path / "authored_version.py").write_text(module + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "authored_version"
    sys.modules.pop("authored_version", None)


@pytest.fixture
def registry(new_version_module: str) -> Registry:
    """Step 2: one more line in the catalog's list."""
    return build_registry((*VERSIONS, new_version_module))


def test_new_version_is_registered_and_the_bare_name_stays(registry: Registry) -> None:
    """The new version resolves exactly and by range; the bare name keeps its default."""
    shipped = build_registry()
    assert registry.resolve(REF).ref == REF
    assert registry.resolve("streaming-chat::^1.0.0").ref == REF
    assert registry.resolve("streaming-chat").ref == shipped.resolve("streaming-chat").ref


def test_new_version_reaches_studio_exports_and_langgraph_json(registry: Registry) -> None:
    """The Studio exports and langgraph.json are derived from it with no hand edits."""
    assert ATTRIBUTE in factories(registry)
    graphs = langgraph_config(registry)["graphs"]
    assert graphs[f"streaming-chat-{NEW}"] == f"./studio/exports.py:{ATTRIBUTE}"


async def test_new_version_is_served_and_listed(registry: Registry, tmp_path: Path) -> None:
    """The server lists the new version in /graph-types and answers with it."""
    settings = Settings(_env_file=None, sqlite_path=tmp_path / "m.sqlite", offline_token_delay_ms=0)
    with serving(create_app(settings, registry=registry)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
            listing = (await client.get("/graph-types")).json()["graphs"]
            body = {
                "graphSettings": {"graphType": REF, "style": "pirate"},
                "message": {"content": "Ahoy"},
            }
            answer = await client.post("/generate", json=body)

    (chat,) = [g for g in listing if g["name"] == "streaming-chat"]
    assert str(NEW) in [v["version"] for v in chat["versions"]]
    assert chat["default"] == str(build_registry().default("streaming-chat").version)
    assert answer.status_code == 200, answer.text
    assert answer.json()["metadata"]["graphType"] == REF


def test_server_refuses_to_start_when_versions_have_no_default(new_version_module: str) -> None:
    """Two versions and no default mark is a start-up error naming the fix."""
    registry = Registry()
    registry.register(build_registry((new_version_module,)).resolve(REF))
    registry.register(v1_0_0.GRAPH)
    with pytest.raises(ValueError, match="none is marked default"):
        create_app(Settings(_env_file=None), registry=registry)

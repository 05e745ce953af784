"""Registry resolution: exact versions, bare names, caret and tilde ranges, clear errors."""

from __future__ import annotations

import pytest

from graphs import GraphSettings, GraphVersion, InvalidReference, Registry, UnknownGraph, Version
from graphs.catalog import build_registry
from graphs.streaming_chat.v1_0_0 import build


def _registry(*versions: str, default: str | None = None, name: str = "demo") -> Registry:
    registry = Registry()
    for text in versions:
        registry.register(
            GraphVersion(
                name=name,
                version=Version.parse(text),
                settings=GraphSettings,
                build=build,
                default=text == default,
            )
        )
    return registry


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("demo::1.2.0", "1.2.0"),
        ("demo", "2.0.0"),
        ("demo::^1.0.0", "1.3.1"),
        ("demo::^1.2.5", "1.3.1"),
        ("demo::~1.2.0", "1.2.9"),
        ("demo::~1.3.0", "1.3.1"),
        ("demo::^2.0.0", "2.0.0"),
        ("demo::^0.2.0", "0.2.5"),
        ("demo::^0.0.3", "0.0.3"),
    ],
)
def test_resolve_picks_the_newest_match(reference: str, expected: str) -> None:
    """Each reference form selects the newest version it admits."""
    registry = _registry("0.0.3", "0.2.0", "0.2.5", "1.0.0", "1.2.0", "1.2.9", "1.3.1", "2.0.0")
    assert str(registry.resolve(reference).version) == expected


def test_bare_name_gives_the_marked_default_over_the_newest() -> None:
    """A version marked default wins for a bare name; ranges still pick the newest."""
    registry = _registry("1.0.0", "1.1.0", default="1.0.0")
    assert str(registry.resolve("demo").version) == "1.0.0"
    assert str(registry.resolve("demo::^1.0.0").version) == "1.1.0"


@pytest.mark.parametrize("reference", ["demo::1.9.0", "demo::^3.0.0", "demo::~1.4.0"])
def test_unknown_version_lists_what_exists(reference: str) -> None:
    """A version nobody registered is an UnknownGraph naming the known versions."""
    with pytest.raises(UnknownGraph, match=r"known: 1\.0\.0, 1\.1\.0") as info:
        _registry("1.0.0", "1.1.0").resolve(reference)
    assert info.value.available == {"demo": ["1.0.0", "1.1.0"]}


def test_unknown_name_lists_every_graph() -> None:
    """An unknown graph name lists every registered graph and version."""
    with pytest.raises(UnknownGraph, match=r"Available graphs: demo: 1\.0\.0"):
        _registry("1.0.0").resolve("other::1.0.0")


@pytest.mark.parametrize(
    "reference",
    ["", "Demo", "demo::", "demo::1", "demo::1.0", "demo::v1.0.0", "demo::01.0.0", "demo::>1.0.0",
     "demo::1.0.0-beta", "../etc::1.0.0", "demo:1.0.0"],
)  # fmt: skip
def test_malformed_reference_is_invalid(reference: str) -> None:
    """Anything but name, name::X.Y.Z, ^X.Y.Z or ~X.Y.Z is an InvalidReference."""
    with pytest.raises(InvalidReference):
        _registry("1.0.0").resolve(reference)


def test_registering_a_version_twice_is_refused() -> None:
    """The same name and version cannot be registered twice."""
    registry = _registry("1.0.0")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(GraphVersion("demo", Version(1, 0, 0), GraphSettings, build))


def test_catalog_offers_both_streaming_chat_versions() -> None:
    """The shipped catalog has streaming-chat 1.0.0 and 1.1.0, 1.1.0 the default."""
    registry = build_registry()
    assert registry.available() == {"streaming-chat": ["1.0.0", "1.1.0"]}
    assert registry.default("streaming-chat").ref == "streaming-chat::1.1.0"

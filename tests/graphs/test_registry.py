"""Registry resolution: exact versions, bare names, caret and tilde ranges, clear errors."""

from __future__ import annotations

import pytest

from graphs import (
    GraphSettings,
    GraphVersion,
    InvalidReference,
    Registry,
    RegistryError,
    UnknownGraph,
    Version,
)
from graphs.streaming_chat.chat import CONVERSATION
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
                conversation=CONVERSATION,
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
    registry = _registry(
        "0.0.3", "0.2.0", "0.2.5", "1.0.0", "1.2.0", "1.2.9", "1.3.1", "2.0.0", default="2.0.0"
    )
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
        registry.register(
            GraphVersion("demo", Version(1, 0, 0), GraphSettings, build, CONVERSATION)
        )


def test_several_versions_without_a_marked_default_are_refused() -> None:
    """A bare name must not silently mean the newest: with two versions, one is marked."""
    registry = _registry("1.0.0", "1.1.0")
    with pytest.raises(RegistryError, match="none is marked default"):
        registry.check()
    with pytest.raises(RegistryError, match="none is marked default"):
        registry.resolve("demo")
    assert registry.resolve("demo::1.0.0").ref == "demo::1.0.0"  # exact references still work


def test_a_single_version_is_its_own_default() -> None:
    """A graph with one version needs no mark."""
    registry = _registry("1.0.0")
    registry.check()
    assert registry.resolve("demo").ref == "demo::1.0.0"


def test_two_marked_defaults_are_refused() -> None:
    """Only one version of a graph may be its default."""
    registry = _registry("1.0.0", default="1.0.0")
    with pytest.raises(RegistryError, match="more than one default"):
        registry.register(
            GraphVersion("demo", Version(2, 0, 0), GraphSettings, build, CONVERSATION, default=True)
        )

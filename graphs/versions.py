"""Semantic versions and the ``name::range`` references that select them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

_VERSION = re.compile(r"^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$")
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


class InvalidReference(ValueError):
    """A reference that is not ``name``, ``name::X.Y.Z``, ``name::^X.Y.Z`` or ``name::~X.Y.Z``."""


class Version(NamedTuple):
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.match(text)
        if match is None:
            raise InvalidReference(f"{text!r} is not a version of the form MAJOR.MINOR.PATCH")
        return cls(*(int(part) for part in match.groups()))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class Reference:
    """A parsed reference: a graph name and which of its versions it accepts."""

    name: str
    operator: str  # "" (exact), "^", "~", or "*" (the default version)
    version: Version | None

    @classmethod
    def parse(cls, text: str) -> Reference:
        name, sep, spec = text.strip().partition("::")
        if not _NAME.match(name) or len(name) > 64:
            raise InvalidReference(
                f"{text!r}: a graph name is lowercase letters, digits, '-' and '_' (e.g. "
                "'streaming-chat'), optionally followed by '::1.0.0', '::^1.0.0' or '::~1.0.0'"
            )
        if not sep:
            return cls(name, "*", None)
        operator = spec[:1] if spec[:1] in ("^", "~") else ""
        return cls(name, operator, Version.parse(spec[len(operator) :]))

    def accepts(self, version: Version) -> bool:
        if self.version is None:
            return True
        floor = self.version
        if self.operator == "":
            return version == floor
        if version < floor:
            return False
        if self.operator == "~":
            return version[:2] == floor[:2]
        # Caret: the left-most non-zero part is fixed, as npm and Cargo define it.
        if floor.major:
            return version.major == floor.major
        if floor.minor:
            return version[:2] == floor[:2]
        return version == floor

    def __str__(self) -> str:
        if self.version is None:
            return self.name
        return f"{self.name}::{self.operator}{self.version}"

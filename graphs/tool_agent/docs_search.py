"""Search over this project's own documentation, shipped with the package in ``corpus/``."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["Passage", "search"]

_WORD = re.compile(r"[a-z0-9_]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "the",
        "this",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
        "can",
    ]
)


@dataclass(frozen=True)
class Passage:
    """A paragraph of a document, under its nearest heading."""

    source: str  # file name and heading anchor, e.g. "README.md#quick-start"
    title: str
    text: str


def _anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).strip().replace(" ", "-")


def _passages(name: str, text: str) -> list[Passage]:
    passages: list[Passage] = []
    heading = name
    in_code = False
    block: list[str] = []

    def flush() -> None:
        body = " ".join(line.strip() for line in block).strip()
        if len(body) > 40:
            source = f"{name}#{_anchor(heading)}" if heading != name else name
            passages.append(Passage(source, heading, body))
        block.clear()

    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            block.append(line)
            continue
        if not in_code and line.startswith("#"):
            flush()
            heading = line.lstrip("#").strip()
        elif not in_code and not line.strip():
            flush()
        else:
            block.append(line)
    flush()
    return passages


@cache
def _index() -> tuple[list[Passage], list[Counter[str]], dict[str, int]]:
    corpus = resources.files("graphs.tool_agent") / "corpus"
    passages: list[Passage] = []
    for entry in sorted(corpus.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".md") and entry.is_file():
            passages.extend(_passages(entry.name, entry.read_text(encoding="utf-8")))
    counts = [Counter(_terms(p.title + " " + p.text)) for p in passages]
    frequency: Counter[str] = Counter()
    for terms in counts:
        frequency.update(set(terms))
    return passages, counts, dict(frequency)


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def search(query: str, limit: int = 3) -> list[Passage]:
    """The passages that best match ``query`` (BM25 over words), best first."""
    passages, counts, frequency = _index()
    terms = set(_terms(query))
    if not terms or not passages:
        return []
    average = sum(sum(c.values()) for c in counts) / len(counts)
    scored: list[tuple[float, int]] = []
    for i, counted in enumerate(counts):
        length = sum(counted.values())
        score = 0.0
        for term in terms:
            tf = counted.get(term, 0)
            if not tf:
                continue
            idf = math.log(1 + (len(passages) - frequency[term] + 0.5) / (frequency[term] + 0.5))
            score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average))
        if score > 0:
            scored.append((score, i))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [passages[i] for _, i in scored[:limit]]

"""The tool-agent's tools: useful in a demo, and all of them work offline.

A tool's attachments (citations, notes) travel as its ``ToolMessage.artifact``: a list of dicts
with a ``type``, which the server turns into the turn's ``attachments``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, InjectedToolCallId, tool
from langgraph.types import Command, interrupt

from graphs.tool_agent.calculator import evaluate
from graphs.tool_agent.docs_search import Passage, search

__all__ = ["TOOLS", "approved"]


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as "17*23" or "(2+3)**2 / 4"."""
    return str(evaluate(expression))


@tool
def current_time(timezone: str = "UTC") -> str:
    """The current date and time in an IANA time zone such as "Europe/Paris" (default UTC)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        close = sorted(z for z in available_timezones() if timezone.lower() in z.lower())[:5]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown time zone {timezone!r}{hint}") from None
    return datetime.now(zone).strftime("%Y-%m-%d %H:%M:%S %Z (%A)")


@tool(response_format="content_and_artifact")
def search_docs(query: str) -> tuple[str, list[dict[str, Any]]]:
    """Search this agent server's own documentation (README, architecture, examples)."""
    hits: list[Passage] = []
    for hit in search(query, limit=6):  # the best passage of each section
        if all(hit.source != kept.source for kept in hits):
            hits.append(hit)
    hits = hits[:3]
    if not hits:
        return f"No passage of the documentation matches {query!r}.", []
    content = "\n\n".join(
        f"[{i}] {hit.title} ({hit.source}): {hit.text}" for i, hit in enumerate(hits, 1)
    )
    citations = [
        {"type": "citation", "title": hit.title, "source": hit.source, "snippet": hit.text[:300]}
        for hit in hits
    ]
    return content, citations


def approved(answer: Any) -> bool:
    """Whether a resume value approves: true, "approve"/"yes"/..., or {"approved": true}."""
    if isinstance(answer, dict):
        answer = answer.get("approved", answer.get("approve", answer.get("decision")))
    if isinstance(answer, str):
        return answer.strip().lower() in {"approve", "approved", "yes", "y", "ok", "true"}
    return answer is True


@tool
def save_note(
    title: str, text: str, tool_call_id: Annotated[str, InjectedToolCallId]
) -> Command[Any]:
    """Save a note in this conversation, after the user approves it."""
    answer = interrupt(
        {
            "type": "approval",
            "action": "save_note",
            "question": f"Save the note {title!r}?",
            "note": {"title": title, "text": text},
        }
    )
    if not approved(answer):
        return Command(
            update={
                "messages": [
                    ToolMessage(
                        "The user declined: the note was not saved.",
                        tool_call_id=tool_call_id,
                        name="save_note",
                    )
                ]
            }
        )
    note = {"type": "note", "title": title, "text": text}
    return Command(
        update={
            "notes": [note],
            "messages": [
                ToolMessage(
                    f"Saved the note {title!r}.",
                    tool_call_id=tool_call_id,
                    name="save_note",
                    artifact=[note],
                )
            ],
        }
    )


TOOLS: list[BaseTool] = [calculator, current_time, search_docs, save_note]

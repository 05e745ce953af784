"""app/static/sse.js, the page's SSE parser, run in Chromium on awkward byte streams."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from tests.conftest import ServerFactory

# CRLF, CR and LF line ends, comments (pings), a BOM, multi-line data, a field with no colon,
# no space after the colon, ids that persist, non-ASCII text, and an event cut off by the end.
STREAM = (
    "\ufeff: ping\r\n\r\n"
    'id: 1\r\nevent: stream_event\r\ndata: {"type":"chunk","content":"Hé ✓ 😀"}\r\n\r\n'
    ": ping\n\nevent: final\ndata: line one\ndata:  line two\n\n"
    "data: cr only\r\rdata:no-space\n\n"
    "data\n\nid: 7\nretry: 10\nunknown: x\ndata: {}\r\n\r\n"
    "event: cut\ndata: never dispatched"
)
EXPECTED = [
    {"event": "stream_event", "data": '{"type":"chunk","content":"Hé ✓ 😀"}', "id": "1"},
    {"event": "final", "data": "line one\n line two", "id": "1"},
    {"event": "message", "data": "cr only", "id": "1"},
    {"event": "message", "data": "no-space", "id": "1"},
    {"event": "message", "data": "", "id": "1"},
    {"event": "message", "data": "{}", "id": "7"},
]

SPLIT_EVERYWHERE = """async (text) => {
  const { SSEParser } = await import("./static/sse.js");
  const parse = (pieces) => {
    const parser = new SSEParser();
    return [...pieces.flatMap((p) => parser.push(p)), ...parser.end()];
  };
  const results = { whole: parse([text]), chars: parse([...text]), splits: [] };
  for (let i = 0; i <= text.length; i++) {
    results.splits.push(parse([text.slice(0, i), text.slice(i)]));
  }
  return results;
}"""

BYTE_BY_BYTE = """async (text) => {
  const { readEvents } = await import("./static/sse.js");
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream({
    start(controller) {
      for (const b of bytes) controller.enqueue(new Uint8Array([b]));
      controller.close();
    },
  });
  const events = [];
  for await (const event of readEvents(body)) events.push(event);
  return events;
}"""


def open_page(page: Page, make_server: ServerFactory) -> None:
    page.goto(make_server().url)


def test_parser_reads_every_kind_of_line_end_comment_and_field(
    page: Page, make_server: ServerFactory
) -> None:
    """Fed whole, the stream gives exactly the expected events and drops the cut-off one."""
    open_page(page, make_server)
    results: dict[str, Any] = page.evaluate(SPLIT_EVERYWHERE, STREAM)
    assert results["whole"] == EXPECTED


def test_parser_gives_the_same_events_however_the_text_is_split(
    page: Page, make_server: ServerFactory
) -> None:
    """Split at any one point, or into single characters, the events are the same."""
    open_page(page, make_server)
    results: dict[str, Any] = page.evaluate(SPLIT_EVERYWHERE, STREAM)
    assert results["chars"] == EXPECTED
    wrong = [i for i, events in enumerate(results["splits"]) if events != EXPECTED]
    assert wrong == [], f"split points that changed the events: {wrong}"


def test_read_events_decodes_characters_split_across_network_chunks(
    page: Page, make_server: ServerFactory
) -> None:
    """A body delivered one byte at a time still yields whole UTF-8 characters."""
    open_page(page, make_server)
    assert page.evaluate(BYTE_BY_BYTE, STREAM) == EXPECTED

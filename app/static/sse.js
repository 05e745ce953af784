// Server-Sent Events read from a fetch() response body.
//
// EventSource can only GET, and /stream is a POST, so the page reads the body itself. The
// parser follows the HTML standard's event-stream rules: lines end in \r\n, \n or \r (a \r at
// the end of one network chunk may be followed by the \n of the next), lines starting with ":"
// are comments (the server's keep-alive pings), "data" lines join with \n, and an event is
// dispatched at a blank line only; a half-sent event at the end of the stream is dropped.

// A line ends at \r\n, \n, or a \r that is not the last character received so far.
const LINE_END = /\r\n|\n|\r(?!$)/g;

export class SSEParser {
  #buffer = "";
  #started = false;
  #event = "";
  #data = [];
  #lastId = "";

  /** Feed decoded text; returns the events it completed, in order. */
  push(text) {
    if (!this.#started && text.length > 0) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const buffer = this.#buffer + text;
    const events = [];
    let start = 0;
    LINE_END.lastIndex = 0;
    for (let match; (match = LINE_END.exec(buffer)) !== null; ) {
      this.#line(buffer.slice(start, match.index), events);
      start = LINE_END.lastIndex;
    }
    this.#buffer = buffer.slice(start);
    return events;
  }

  /** The stream ended: a held-back \r still ends its line; an unfinished event is dropped. */
  end() {
    const events = [];
    if (this.#buffer.endsWith("\r")) this.#line(this.#buffer.slice(0, -1), events);
    this.#buffer = "";
    this.#event = "";
    this.#data = [];
    return events;
  }

  #line(line, events) {
    if (line === "") {
      if (this.#data.length > 0) {
        events.push({
          event: this.#event || "message",
          data: this.#data.join("\n"),
          id: this.#lastId,
        });
      }
      this.#event = "";
      this.#data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
    else if (field === "id" && !value.includes("\0")) this.#lastId = value;
    // "retry" and unknown fields are ignored: the page never reconnects on its own.
  }
}

/**
 * Yield the events of a response body as they arrive. Bytes are decoded with a streaming
 * TextDecoder, so a character split across two network chunks comes out whole.
 */
export async function* readEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SSEParser();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
    finished = true;
    yield* parser.push(decoder.decode());
    yield* parser.end();
  } finally {
    // The caller stopped early (or failed): let go of the connection.
    if (!finished) reader.cancel().catch(() => {});
  }
}

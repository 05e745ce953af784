// Following a run's Server-Sent Events (GET /stream/{requestId}, the streamUrl of POST /start)
// across dropped connections.
//
// The page uses the browser's own EventSource, which reconnects by itself and sends
// Last-Event-ID, so the server resumes after the last frame the page saw. EventSource cannot
// send an Authorization header, though, so on a server with API_KEYS the page reads the stream
// with fetch() and does the same reconnecting itself; for that, SSEParser follows the HTML
// standard's event-stream rules: lines end in \r\n, \n or \r (a \r at the end of one network
// chunk may be followed by the \n of the next), lines starting with ":" are comments (the
// server's keep-alive pings), "data" lines join with \n, and an event is dispatched at a blank
// line only; a half-sent event at the end of the stream is dropped.

// A line ends at \r\n, \n, or a \r that is not the last character received so far.
const LINE_END = /\r\n|\n|\r(?!$)/g;

export class SSEParser {
  #buffer = "";
  #started = false;
  #event = "";
  #data = [];
  #lastId = "";
  /** The reconnection time the stream asked for with "retry:", in ms, or null. */
  retry = null;

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
    else if (field === "retry" && /^[0-9]+$/.test(value)) this.retry = Number(value);
    // Unknown fields are ignored.
  }
}

/**
 * Yield the events of a response body as they arrive. Bytes are decoded with a streaming
 * TextDecoder, so a character split across two network chunks comes out whole.
 */
export async function* readEvents(body, parser = new SSEParser()) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
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

// What a run's stream carries: frames, and the server's own "error" frame. EventSource's own
// "error" events (a plain Event, with no data) are about the connection, never a frame.
const FRAMES = ["stream_event", "final", "error"];
const MAX_RETRIES = 10; // reconnects in a row with no frame between them before giving up
const DEFAULT_RETRY_MS = 1000;

/** The stream could not be followed any further; ``status`` is the refusal's, if any. */
export class StreamLost extends Error {
  constructor(message, status = null) {
    super(message);
    this.name = "StreamLost";
    this.status = status;
  }
}

/**
 * Yield a run's frames as {event, data, id} until the caller stops reading (it does at final
 * or error), reconnecting after a dropped connection. With ``headers`` (an API key) the stream
 * is read with fetch(), else with EventSource. ``onReconnecting()`` is called at each drop;
 * aborting ``signal`` ends the stream with its reason.
 */
export function followStream(url, { headers = null, signal, onReconnecting = () => {} } = {}) {
  const options = { signal, onReconnecting };
  return headers ? fetchStream(url, headers, options) : eventSourceStream(url, options);
}

async function* eventSourceStream(url, { signal, onReconnecting }) {
  signal?.throwIfAborted();
  const source = new EventSource(url);
  const queue = [];
  let failure = null;
  let wake = () => {};
  let retries = 0;
  let ended = false; // a final or error frame came: the end of the stream that follows is no drop
  const fail = (error) => {
    source.close();
    failure ??= error;
    wake();
  };
  const onFrame = (event) => {
    retries = 0;
    ended ||= event.type !== "stream_event";
    queue.push({ event: event.type, data: event.data, id: event.lastEventId });
    wake();
  };
  for (const name of FRAMES) {
    source.addEventListener(name, (event) => {
      if (event instanceof MessageEvent) {
        onFrame(event);
      } else if (ended) {
        source.close();
      } else if (source.readyState === EventSource.CLOSED) {
        // Refused (the run is unknown, expired or not ours) or not an event stream.
        fail(new StreamLost("The connection to the reply was lost and could not be resumed."));
      } else if (++retries > MAX_RETRIES) {
        fail(new StreamLost(`The connection dropped ${MAX_RETRIES} times in a row.`));
      } else {
        onReconnecting(); // EventSource tries again by itself, sending Last-Event-ID
      }
    });
  }
  const abort = () => fail(signal.reason);
  signal?.addEventListener("abort", abort);
  try {
    for (;;) {
      if (queue.length > 0) {
        yield queue.shift();
      } else if (failure) {
        throw failure;
      } else {
        await new Promise((resolve) => (wake = resolve));
      }
    }
  } finally {
    signal?.removeEventListener("abort", abort);
    source.close();
  }
}

async function* fetchStream(url, headers, { signal, onReconnecting }) {
  let lastId = "";
  let retryMs = DEFAULT_RETRY_MS;
  for (let retries = 0; ; ) {
    const parser = new SSEParser();
    try {
      const response = await fetch(url, {
        headers: {
          ...headers,
          Accept: "text/event-stream",
          ...(lastId ? { "Last-Event-ID": lastId } : {}),
        },
        cache: "no-store",
        signal,
      });
      if (!response.ok) {
        const message = `The reply could not be resumed (${response.status}).`;
        throw new StreamLost(message, response.status);
      }
      for await (const event of readEvents(response.body, parser)) {
        retries = 0;
        lastId = event.id || lastId;
        if (FRAMES.includes(event.event)) yield event;
      }
    } catch (err) {
      if (signal?.aborted || err instanceof StreamLost) throw err;
      // Anything else is the connection failing: try again, as EventSource would.
    }
    retryMs = parser.retry ?? retryMs;
    if (++retries > MAX_RETRIES) {
      throw new StreamLost(`The connection dropped ${MAX_RETRIES} times in a row.`);
    }
    onReconnecting();
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, retryMs);
      signal?.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }
}

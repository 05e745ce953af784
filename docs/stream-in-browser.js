// Two ways to stream a reply in a browser; the README shows them, and
// tests/browser/test_readme_snippet.py runs both in Chromium.

// 1. POST /start, then follow the run with the browser's own EventSource. It reconnects by
// itself when the connection drops and sends Last-Event-ID, so the server carries on after the
// last frame it got: no chunk is lost or repeated.
async function startChat(body, onToken) {
  const response = await fetch("/start", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const { error } = await response.json(); // refused before the run started
    throw new Error(`${response.status} ${error.code}: ${error.message}`);
  }
  const { streamUrl } = await response.json(); // 202: {requestId, threadId, streamUrl}
  return new Promise((resolve, reject) => {
    const source = new EventSource(streamUrl);
    source.addEventListener("stream_event", (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "chunk") onToken(data.content);
    });
    source.addEventListener("final", (event) => {
      source.close();
      resolve(JSON.parse(event.data)); // {text, attachments, metadata}
    });
    source.addEventListener("error", (event) => {
      if (event instanceof MessageEvent) {
        // The server's `event: error` frame: the run failed.
        source.close();
        const { code, message } = JSON.parse(event.data);
        reject(new Error(`${code}: ${message}`));
      } else if (source.readyState === EventSource.CLOSED) {
        // EventSource gave up: the run is unknown, expired or not this user's.
        reject(new Error("The stream could not be followed."));
      } // else the connection dropped, and EventSource is reconnecting by itself.
    });
  });
}

// 2. POST /stream and read the response with fetch(): one request, and it can carry an
// Authorization header, which EventSource cannot send (for a server with API_KEYS). A dropped
// connection ends it; parse the frames yourself.
async function streamChat(body, onToken, { signal } = {}) {
  const response = await fetch("/stream", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
    const { error } = await response.json(); // refused before streaming
    throw new Error(`${response.status} ${error.code}: ${error.message}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error("The stream ended without a final event.");
    buffer += decoder.decode(value, { stream: true });
    // Lines end in \n, \r\n or \r; a trailing \r may be half of a \r\n, so it waits for more.
    const lines = buffer.split(/\r\n|\n|\r(?!$)/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line.startsWith(":")) continue; // ": ping" keep-alive comments
      if (line !== "") {
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        continue;
      }
      if (data.length > 0) {
        // A blank line ends an event.
        const payload = JSON.parse(data.join("\n"));
        if (event === "stream_event" && payload.type === "chunk") {
          onToken(payload.content);
        } else if (event === "final") {
          reader.cancel();
          return payload; // {text, attachments, metadata}
        } else if (event === "error") {
          reader.cancel();
          throw new Error(`${payload.code}: ${payload.message}`);
        }
      }
      event = "";
      data = [];
    }
  }
}

// POST /stream from a browser and read its Server-Sent Events as they arrive.
// EventSource cannot send a POST body, so read the response with fetch() and parse the frames.
// (This is the README's snippet; tests/browser/test_readme_snippet.py runs it in Chromium.)
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

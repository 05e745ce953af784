#!/usr/bin/env node
// Stream one reply from the agent server and print its tokens as they arrive.
//
//   node examples/node/stream.mjs http://127.0.0.1:8000 "Tell me a story" [thread-id]
//
// Set API_KEY in the environment for a server that needs credentials: a service key (API_KEYS),
// a user key (USER_API_KEYS) or a JWT. USER_ID names who the turn is for (a service key may
// name anyone; leave it unset with a user credential).
//
// Node 18+ and no dependencies: fetch() with a streaming body reader. EventSource cannot POST,
// so the Server-Sent Events are parsed here; the parser handles \r\n, \n and \r line ends,
// comment lines (the server's ": ping" keep-alives) and frames split across network chunks.

import { randomUUID } from "node:crypto";

const [serverUrl, message, threadId] = process.argv.slice(2);
if (!serverUrl || !message) {
  console.error("usage: node stream.mjs <server-url> <message> [thread-id]");
  process.exit(2);
}

/** Yield {event, data} for each complete event in an SSE response body. */
async function* sseEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data = [];
  for (;;) {
    const { done, value } = await reader.read();
    buffer += done ? decoder.decode() + "\n" : decoder.decode(value, { stream: true });
    // A \r as the very last character may be the first half of a \r\n: keep it for later.
    const lines = buffer.split(/\r\n|\n|\r(?!$)/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === "") {
        if (data.length > 0) yield { event: event || "message", data: data.join("\n") };
        event = "";
        data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
    }
    if (done) return;
  }
}

const userId = process.env.USER_ID || (process.env.API_KEY ? undefined : "node-example");
const response = await fetch(new URL("stream", serverUrl.replace(/\/*$/, "/")), {
  method: "POST",
  headers: {
    "Content-Type": "application/json",
    Accept: "text/event-stream",
    ...(process.env.API_KEY ? { Authorization: `Bearer ${process.env.API_KEY}` } : {}),
  },
  body: JSON.stringify({
    requestId: randomUUID(),
    ...(threadId ? { threadId } : {}),
    // A user credential is its own user: name a user only for a service key (or none at all).
    ...(userId ? { userId } : {}),
    graphType: "streaming-chat",
    message: { content: message },
  }),
});

if (!response.ok) {
  // Refused before streaming: the body is {"error": {"code", "message", "requestId"}}.
  const { error } = await response.json();
  console.error(`refused (${response.status}): ${error.code}: ${error.message}`);
  process.exit(1);
}

for await (const { event, data } of sseEvents(response.body)) {
  const payload = JSON.parse(data);
  if (event === "stream_event" && payload.type === "chunk") {
    process.stdout.write(payload.content);
  } else if (event === "final") {
    process.stdout.write("\n\n" + JSON.stringify(payload.metadata, null, 2) + "\n");
  } else if (event === "error") {
    console.error(`\nerror: ${payload.code}: ${payload.message}`);
    process.exitCode = 1;
  }
}

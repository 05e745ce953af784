#!/usr/bin/env node
// Start a run with POST /start, then follow it with the `eventsource` package's EventSource,
// which reconnects by itself after a dropped connection and resumes after the last frame it
// saw (Last-Event-ID): every chunk is printed once, however often the connection drops.
//
//   npm ci --prefix examples/node      # once: installs the pinned eventsource package
//   node examples/node/eventsource.mjs http://127.0.0.1:8000 "Tell me a story" [thread-id]
//
// Set API_KEY in the environment for a server started with API_KEYS. Prints the tokens as they
// arrive, then a blank line and the final frame's metadata as JSON, as stream.mjs does.

import { randomUUID } from "node:crypto";
import { EventSource } from "eventsource";

const [serverUrl, message, threadId] = process.argv.slice(2);
if (!serverUrl || !message) {
  console.error("usage: node eventsource.mjs <server-url> <message> [thread-id]");
  process.exit(2);
}

const MAX_RETRIES = 10; // reconnects in a row without a frame before giving up

const base = serverUrl.replace(/\/*$/, "/");
const auth = process.env.API_KEY ? { Authorization: `Bearer ${process.env.API_KEY}` } : {};

const response = await fetch(new URL("start", base), {
  method: "POST",
  headers: { "Content-Type": "application/json", ...auth },
  body: JSON.stringify({
    requestId: randomUUID(),
    ...(threadId ? { threadId } : {}),
    userId: "node-example",
    graphType: "streaming-chat",
    message: { content: message },
  }),
});
if (!response.ok) {
  // Refused before the run started: the body is {"error": {"code", "message", "requestId"}}.
  const { error } = await response.json();
  console.error(`refused (${response.status}): ${error.code}: ${error.message}`);
  process.exit(1);
}
const { streamUrl } = await response.json(); // 202: {requestId, threadId, streamUrl}

const source = new EventSource(new URL(streamUrl, base), {
  // A browser's EventSource cannot send headers; this one takes a fetch that can.
  fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, ...auth } }),
});

let retries = 0;

source.addEventListener("stream_event", (event) => {
  retries = 0;
  const data = JSON.parse(event.data);
  if (data.type === "chunk") process.stdout.write(data.content);
});

source.addEventListener("final", (event) => {
  source.close();
  const final = JSON.parse(event.data); // {text, attachments, metadata}
  process.stdout.write("\n\n" + JSON.stringify(final.metadata, null, 2) + "\n");
});

source.addEventListener("error", (event) => {
  if (event instanceof MessageEvent) {
    // The server's own `event: error` frame: the run failed, and the stream is over.
    source.close();
    const { code, message } = JSON.parse(event.data);
    console.error(`\nerror: ${code}: ${message}`);
    process.exitCode = 1;
  } else if (source.readyState === EventSource.CLOSED) {
    // The connection failed for good (say 404: the run is unknown, not ours, or expired).
    console.error(`\nerror: the stream could not be followed: ${event.message}`);
    process.exitCode = 1;
  } else if (++retries > MAX_RETRIES) {
    source.close();
    console.error(`\nerror: gave up after ${MAX_RETRIES} reconnects: ${event.message}`);
    process.exitCode = 1;
  } else {
    // The connection dropped: EventSource reconnects by itself, sending Last-Event-ID.
    console.error(`(reconnecting: ${event.message ?? "connection lost"})`);
  }
});

// The playground: pick a graph version, tune its settings, chat with it token by token, watch
// an agent's tool steps and answer its questions.
//
// Everything goes through the server's public API (/graph-types, /start, /stream/{id},
// /cancel/{id}, /threads/{id}/messages), exactly as any other client would use it. URLs are
// relative to the page so that it also works behind a reverse proxy that serves the server
// under a prefix. A turn is started with POST /start and followed at its streamUrl, so a
// dropped connection is picked up again where it broke off (see sse.js).

import { Reply } from "./reply.js";
import { StreamLost, followStream } from "./sse.js";

const STORE_KEY = "agent-playground";
const CANCEL_GRACE_MS = 5000; // after /cancel said yes, how long to wait for the final frame
const BUSY_RETRIES = 6; // about five seconds of waiting for a thread to finish its last turn
const RECONNECTING = "The connection dropped; reconnecting…";

const $ = (id) => document.getElementById(id);
const ui = {
  graph: $("graph"),
  version: $("version"),
  description: $("version-description"),
  settingsPanel: $("settings-panel"),
  settings: $("settings"),
  keyForm: $("key-form"),
  keyAlert: $("key-alert"),
  apiKey: $("api-key"),
  newThread: $("new-thread"),
  threadInfo: $("thread-info"),
  notice: $("notice"),
  transcript: $("transcript"),
  composer: $("composer"),
  message: $("message"),
  send: $("send"),
  stop: $("stop"),
};

// --- Saved state: who we are, which thread, which graph, its settings ----------------------

function newId() {
  // crypto.randomUUID() exists only in secure contexts; a phone on http://192.168.x.y is not one.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function loadState() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(STORE_KEY) ?? "{}") ?? {};
  } catch {
    saved = {}; // storage disabled or garbled: start afresh
  }
  return {
    userId: typeof saved.userId === "string" ? saved.userId : `web-${newId().slice(0, 12)}`,
    threadId: typeof saved.threadId === "string" ? saved.threadId : newId(),
    graph: typeof saved.graph === "string" ? saved.graph : null,
    ref: typeof saved.ref === "string" ? saved.ref : null,
    settings: saved.settings && typeof saved.settings === "object" ? saved.settings : {},
    apiKey: typeof saved.apiKey === "string" ? saved.apiKey : "",
  };
}

const state = loadState();
let catalog = []; // /graph-types "graphs"
let fields = []; // the settings form's fields for the chosen version
let run = null; // the reply being streamed, if any

function saveState() {
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(state));
  } catch {
    // Private browsing may refuse storage; the page still works for this visit.
  }
}

// --- Talking to the server ------------------------------------------------------------------

const api = (path) => new URL(path, document.baseURI);

/** fetch() with the API key, if one is set; a 401 asks the user for a key, unless the key
 * was changed while the request was out (its refusal is not the new key's). */
async function call(path, init = {}) {
  const headers = new Headers(init.headers);
  const key = state.apiKey;
  if (key) headers.set("Authorization", `Bearer ${key}`);
  const response = await fetch(path instanceof URL ? path : api(path), { ...init, headers });
  if (response.status === 401 && key === state.apiKey) askForKey();
  return response;
}

/** A user key or token is one user's: the page then speaks as that user (GET /me). */
async function adoptCredentialUser() {
  if (!state.apiKey) return;
  try {
    const response = await call("me", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const me = await response.json();
    if (typeof me.userId === "string" && me.userId && me.userId !== state.userId) {
      state.userId = me.userId;
      saveState();
      showThread();
    }
  } catch {
    // The catalog load that follows reports an unreachable server.
  }
}

function askForKey() {
  ui.keyAlert.textContent = state.apiKey
    ? "The server refused this credential. Enter another one."
    : "This server needs a credential (an API key or a token). Enter it to continue.";
  ui.keyAlert.hidden = false;
  ui.settingsPanel.open = true;
  ui.apiKey.focus();
}

class ServerError extends Error {
  constructor({ code, message, details }) {
    super(message || "The server reported an error.");
    this.code = code || "error";
    this.details = details ?? {};
  }
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body?.error) return new ServerError(body.error);
  } catch {
    // not JSON: fall through to the status line
  }
  return new ServerError({
    code: `http_${response.status}`,
    message: `${response.status} ${response.statusText}`.trim(),
  });
}

// --- Rendering the conversation -------------------------------------------------------------

const replies = new WeakMap(); // an assistant's <li> -> its Reply

function addMessage(role, text = "") {
  const item = document.createElement("li");
  item.className = `message ${role}`;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "user" ? "You" : "Assistant";
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text;
  item.append(who, body);
  ui.transcript.append(item);
  if (role === "assistant") replies.set(item, new Reply(item));
  return item;
}

const replyOf = (item) => replies.get(item);

function scrollToEnd(force = false) {
  const root = document.scrollingElement;
  const nearEnd = root.scrollHeight - root.scrollTop - root.clientHeight < 120;
  if (force || nearEnd) window.scrollTo({ top: root.scrollHeight });
}

function showNotice(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = !text;
}

function showThread() {
  ui.threadInfo.textContent = "";
  const id = document.createElement("code");
  id.textContent = state.threadId;
  id.title = state.threadId;
  const user = document.createElement("code");
  user.textContent = state.userId;
  ui.threadInfo.append("Thread ", id, " · user ", user);
}

function setBusy(busy) {
  document.body.dataset.state = busy ? "streaming" : "idle";
  ui.send.disabled = busy || catalog.length === 0;
  ui.stop.disabled = !busy;
  ui.graph.disabled = busy || catalog.length === 0;
  ui.version.disabled = busy || catalog.length === 0;
  for (const button of ui.transcript.querySelectorAll(".approval:not([data-answered]) button")) {
    button.disabled = busy;
  }
}

/** The question the agent is waiting on, if the page knows of one. */
const pendingApproval = () => ui.transcript.querySelector(".approval:not([data-answered])");

function remind(panel) {
  panel.querySelector(".approval-hint").hidden = false;
  panel.scrollIntoView({ block: "nearest" });
}

async function loadHistory() {
  const url = api(`threads/${encodeURIComponent(state.threadId)}/messages`);
  url.searchParams.set("userId", state.userId);
  let response;
  try {
    response = await call(url, { headers: { Accept: "application/json" } });
  } catch (err) {
    showNotice(`Could not load this thread's history: ${err.message}`);
    return;
  }
  if (response.ok) {
    showHistory((await response.json()).messages ?? []);
    scrollToEnd(true);
    return;
  }
  const error = await errorOf(response);
  if (response.status === 404 && error.code !== "not_found") return; // a thread with no turns yet
  if (response.status === 404 || response.status === 405) {
    showNotice("This server cannot list a thread's messages, so earlier turns are not shown.");
    return;
  }
  showNotice(`Could not load this thread's history: ${error.code}: ${error.message}`);
}

/**
 * Everything the agent did between two user messages is one reply: its tool calls and their
 * results become steps, and its last text is the answer, as when the turn streamed.
 */
function showHistory(messages) {
  const shown = [];
  let reply = null;
  for (const m of messages) {
    if (m.role === "user") {
      addMessage("user", m.content);
      reply = null;
    } else if (m.role === "assistant" || m.role === "tool") {
      if (reply === null) {
        reply = replyOf(addMessage("assistant"));
        shown.push(reply);
      }
      if (m.role === "tool") {
        reply.finishStep({ id: m.toolCallId, name: m.name, output: m.content, status: m.status });
        continue;
      }
      if (m.content) reply.appendText(m.content);
      for (const call of m.toolCalls ?? []) reply.startStep(call);
    }
  }
  // A tool call without its result can only be one the graph stopped at to ask a question
  // (the server closes the calls of a cancelled or failed turn). The history does not carry
  // that question; a new message is refused with it, and the page shows it then.
  for (const r of shown) r.settleSteps(r === shown.at(-1) ? "waiting" : "incomplete");
  const last = shown.at(-1);
  if (last?.waitingSteps.length > 0) {
    const hint = "The agent is waiting for an answer; send a message to see its question.";
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = hint;
    last.item.append(p);
  }
}

// --- The settings form, generated from the version's JSON schema --------------------------

function humanize(key) {
  const words = key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function fieldsOf(schema) {
  const defs = schema.$defs ?? schema.definitions ?? {};
  const deref = (s) => (s?.$ref ? { ...defs[s.$ref.split("/").pop()], ...s, $ref: undefined } : s);
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .filter(([key]) => key !== "graphType")
    .map(([key, raw]) => {
      let prop = deref(raw);
      if (prop.allOf?.length === 1) prop = { ...prop, ...deref(prop.allOf[0]) };
      let nullable = false;
      const variants = prop.anyOf ?? prop.oneOf;
      if (variants) {
        const kinds = variants.map(deref).filter((v) => v.type !== "null");
        nullable = kinds.length < variants.length;
        prop = kinds.length === 1 ? { ...prop, ...kinds[0] } : { ...prop, type: undefined };
      }
      let kind = "json";
      if (Array.isArray(prop.enum)) kind = "select";
      else if (prop.type === "boolean") kind = "checkbox";
      else if (prop.type === "integer" || prop.type === "number") kind = "number";
      else if (prop.type === "string") {
        kind = (prop.maxLength ?? Infinity) > 200 ? "textarea" : "text";
      }
      return {
        key,
        kind,
        prop,
        nullable,
        required: required.has(key) && prop.default === undefined,
        label: humanize(key),
        help: prop.description ?? "",
      };
    });
}

function buildControl(field, id) {
  const { kind, prop } = field;
  let control;
  if (kind === "select") {
    control = document.createElement("select");
    if (field.nullable || prop.default === undefined) {
      control.append(new Option("(server default)", ""));
    }
    for (const value of prop.enum) control.append(new Option(String(value), String(value)));
  } else if (kind === "textarea" || kind === "json") {
    control = document.createElement("textarea");
    control.rows = kind === "json" ? 3 : 2;
  } else {
    control = document.createElement("input");
    control.type = kind === "checkbox" ? "checkbox" : kind === "number" ? "number" : "text";
  }
  control.id = id;
  control.name = field.key;
  if (field.required) control.required = true;
  if (kind === "number") {
    control.step = prop.type === "integer" ? "1" : "any";
    if (prop.minimum !== undefined) control.min = String(prop.minimum);
    if (prop.maximum !== undefined) control.max = String(prop.maximum);
    control.inputMode = prop.type === "integer" ? "numeric" : "decimal";
  }
  if (kind === "text" || kind === "textarea") {
    if (prop.maxLength !== undefined) control.maxLength = prop.maxLength;
    if (prop.minLength !== undefined) control.minLength = prop.minLength;
  }
  if (kind !== "select" && kind !== "checkbox" && prop.default != null) {
    control.placeholder = kind === "json" ? JSON.stringify(prop.default) : String(prop.default);
  }
  return control;
}

function setControl(control, field, value) {
  if (field.kind === "checkbox") control.checked = Boolean(value ?? field.prop.default);
  else if (field.kind === "select") control.value = value ?? String(field.prop.default ?? "");
  else if (field.kind === "json") control.value = value === undefined ? "" : JSON.stringify(value);
  else control.value = value ?? "";
}

function renderSettings(version) {
  ui.settings.textContent = "";
  const asks = version.interrupts ? " It may stop to ask for your approval." : "";
  ui.description.textContent = (version.description ?? "") + asks;
  fields = fieldsOf(version.settingsSchema ?? {});
  const saved = state.settings[version.ref] ?? {};
  for (const field of fields) {
    const id = `setting-${field.key}`;
    const row = document.createElement("div");
    row.className = `field field-${field.kind}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = field.label;
    const control = buildControl(field, id);
    setControl(control, field, saved[field.key]);
    if (field.help) {
      const help = document.createElement("small");
      help.id = `${id}-help`;
      help.className = "hint";
      help.textContent = field.help;
      control.setAttribute("aria-describedby", help.id);
      row.append(label, control, help);
    } else {
      row.append(label, control);
    }
    if (field.kind === "checkbox") row.prepend(row.removeChild(control));
    ui.settings.append(row);
  }
  if (fields.length === 0) ui.settings.textContent = "This version has no settings.";
}

/** The settings to send: only what the user set, so the server's defaults apply otherwise. */
function settingsValues() {
  const values = {};
  for (const field of fields) {
    const control = ui.settings.elements.namedItem(field.key);
    control.setCustomValidity("");
    if (field.kind === "checkbox") {
      values[field.key] = control.checked;
    } else if (control.value === "") {
      continue;
    } else if (field.kind === "number") {
      values[field.key] = Number(control.value);
    } else if (field.kind === "json") {
      try {
        values[field.key] = JSON.parse(control.value);
      } catch {
        control.setCustomValidity("Enter a JSON value.");
      }
    } else {
      values[field.key] = control.value;
    }
  }
  return values;
}

function currentVersion() {
  const graph = catalog.find((g) => g.name === ui.graph.value);
  return graph?.versions.find((v) => v.ref === ui.version.value) ?? null;
}

function renderVersions(graph, preferredRef) {
  ui.version.textContent = "";
  for (const v of graph.versions) {
    const label = v.default ? `${v.version} (default)` : v.version;
    ui.version.append(new Option(label, v.ref));
  }
  const chosen =
    graph.versions.find((v) => v.ref === preferredRef) ??
    graph.versions.find((v) => v.default) ??
    graph.versions[0];
  ui.version.value = chosen.ref;
  renderSettings(chosen);
}

async function loadCatalog() {
  catalog = [];
  let response;
  try {
    response = await call("graph-types", { headers: { Accept: "application/json" } });
  } catch (err) {
    showNotice(`Could not reach the server: ${err.message}`);
    return;
  }
  if (!response.ok) {
    const error = await errorOf(response);
    showNotice(`Could not list the graphs: ${error.code}: ${error.message}`);
    return;
  }
  catalog = (await response.json()).graphs ?? [];
  ui.graph.textContent = "";
  if (catalog.length === 0) {
    showNotice("This server has no graphs.");
    return;
  }
  for (const g of catalog) ui.graph.append(new Option(g.name, g.name));
  const graph = catalog.find((g) => g.name === state.graph) ?? catalog[0];
  ui.graph.value = graph.name;
  renderVersions(graph, state.ref);
  state.graph = graph.name;
  state.ref = ui.version.value;
  saveState();
}

// --- One turn -------------------------------------------------------------------------------

function formatMetrics(turn, final) {
  const meta = final.metadata ?? {};
  const tokens = meta.usage?.outputTokens ?? turn.chunks;
  const parts = [];
  if (turn.firstAt !== null) parts.push(`TTFT ${Math.round(turn.firstAt - turn.startedAt)} ms`);
  const streamingMs = turn.endedAt - (turn.firstAt ?? turn.endedAt);
  if (tokens > 1 && streamingMs > 0) {
    parts.push(`${(tokens / (streamingMs / 1000)).toFixed(1)} tokens/s`);
  }
  parts.push(`${tokens} token${tokens === 1 ? "" : "s"}`);
  const steps = meta.steps?.length ?? 0;
  if (steps > 0) parts.push(`${steps} step${steps === 1 ? "" : "s"}`);
  if (meta.model) parts.push(meta.model);
  if (meta.finishReason && meta.finishReason !== "stop") parts.push(meta.finishReason);
  return parts.join(" · ");
}

function finishReply(item, status, note, isError = false) {
  item.dataset.status = status;
  item.querySelector(".text").setAttribute("aria-busy", "false");
  if (note) {
    const p = document.createElement("p");
    p.className = isError ? "error" : "metrics";
    if (isError) p.setAttribute("role", "alert");
    p.textContent = note;
    item.append(p);
  }
}

/** The body of a POST /start on this thread, or null if the settings form is not valid. */
function requestBody(input) {
  const version = currentVersion();
  if (!version) return null;
  const values = settingsValues();
  if (!ui.settings.checkValidity()) {
    ui.settingsPanel.open = true;
    ui.settings.reportValidity();
    return null;
  }
  return {
    requestId: newId(),
    threadId: state.threadId,
    userId: state.userId,
    agentId: "playground",
    graphType: version.ref.split("::")[0],
    graphSettings: { graphType: version.ref, ...values },
    ...input,
  };
}

async function send(content) {
  const waiting = pendingApproval();
  if (waiting) {
    remind(waiting);
    return;
  }
  const body = requestBody({ message: { content } });
  if (!body) return;
  showNotice("");
  const asked = addMessage("user", content);
  const item = addMessage("assistant");
  ui.message.value = "";
  await streamTurn(item, body, (error) => {
    const interrupt = error.details.interrupt;
    if (error.code !== "interrupt_pending" || !interrupt) return false;
    // The thread is waiting on a question this page did not see (it came before a reload):
    // ask it on the reply that stopped for it, and give the message back for later.
    asked.remove();
    item.remove();
    if (!ui.message.value) ui.message.value = content;
    const items = ui.transcript.querySelectorAll("li.message.assistant");
    const reply = replyOf(items[items.length - 1] ?? addMessage("assistant"));
    reply.item.querySelector(":scope > .hint")?.remove();
    remind(ask(reply, interrupt));
    return true;
  });
}

/** Show an interrupt's question on ``reply``; an answer continues the turn in that reply. */
function ask(reply, interrupt) {
  reply.settleSteps("waiting");
  return reply.askApproval(interrupt, async (answer) => {
    const body = run ? null : requestBody({ resume: answer });
    if (!body) return false;
    showNotice("");
    return streamTurn(reply.item, body);
  });
}

/**
 * Stream one turn into the assistant's ``item``. ``onRefused(error)`` may take care of a
 * refusal before streaming (returning true). Resolves to false only if the server refused the
 * request before streaming and so may still take another one for the same answer.
 */
async function streamTurn(item, body, onRefused = () => false) {
  const reply = replyOf(item);
  const turn = {
    requestId: body.requestId,
    controller: new AbortController(),
    startedAt: performance.now(),
    firstAt: null,
    endedAt: null,
    chunks: 0,
  };
  run = turn;
  for (const old of item.querySelectorAll(":scope > .metrics, :scope > .error")) old.remove();
  item.dataset.status = "streaming";
  item.dataset.requestId = turn.requestId;
  const text = item.querySelector(".text");
  // Screen readers hold a busy live region's updates and read the reply once, when it is done.
  text.setAttribute("aria-live", "polite");
  text.setAttribute("aria-busy", "true");
  setBusy(true);
  scrollToEnd(true);

  let accepted = false;
  try {
    let started;
    try {
      started = await postStart(body, turn.controller.signal);
    } catch (err) {
      if (err instanceof ServerError) {
        accepted = err.code === "no_pending_interrupt"; // nothing left to answer
        if (onRefused(err)) return true;
      }
      throw err;
    }
    accepted = true;
    let final = null;
    const events = followStream(streamUrlOf(started), {
      headers: state.apiKey ? { Authorization: `Bearer ${state.apiKey}` } : null,
      signal: turn.controller.signal,
      onReconnecting: () => {
        item.dataset.reconnects = String(Number(item.dataset.reconnects ?? 0) + 1);
        showNotice(RECONNECTING);
      },
    });
    for await (const event of events) {
      if (ui.notice.textContent === RECONNECTING) showNotice("");
      if (event.event === "stream_event") {
        if (!showEvent(reply, turn, JSON.parse(event.data))) continue;
        turn.firstAt ??= performance.now();
        scrollToEnd();
      } else if (event.event === "final") {
        final = JSON.parse(event.data);
        break;
      } else if (event.event === "error") {
        throw new ServerError(JSON.parse(event.data));
      }
    }
    if (final === null) {
      const message = "The stream ended before the reply was complete.";
      throw new ServerError({ code: "stream_ended", message });
    }
    turn.endedAt = performance.now();
    const meta = final.metadata ?? {};
    reply.setText(final.text ?? "");
    for (const step of meta.steps ?? []) reply.finishStep(step);
    reply.showAttachments(final.attachments);
    if (meta.finishReason === "interrupted" && meta.interrupt) {
      ask(reply, meta.interrupt);
      finishReply(item, "interrupted", formatMetrics(turn, final));
    } else {
      reply.settleSteps("incomplete");
      const cancelled = meta.finishReason === "cancelled";
      finishReply(item, cancelled ? "stopped" : "done", formatMetrics(turn, final));
    }
  } catch (err) {
    reply.settleSteps("incomplete");
    if (turn.controller.signal.aborted) {
      finishReply(item, "stopped", "Stopped.");
    } else if (err instanceof ServerError) {
      finishReply(item, "error", `${err.code}: ${err.message}`, true);
    } else if (err instanceof StreamLost) {
      finishReply(item, "error", err.message, true);
    } else {
      finishReply(item, "error", `The request failed: ${err.message}`, true);
    }
  } finally {
    if (ui.notice.textContent === RECONNECTING) showNotice("");
    if (run === turn) run = null;
    setBusy(false);
    scrollToEnd();
  }
  return accepted;
}

/** Draw one stream_event on the reply; false for kinds this page does not know. */
function showEvent(reply, turn, data) {
  switch (data.type) {
    case "chunk":
      turn.chunks += 1;
      reply.appendText(data.content);
      return true;
    case "step_started":
      reply.startStep(data.step);
      return true;
    case "tool_input_chunk":
      reply.inputChunk(data.stepId, data.chunk);
      return true;
    case "tool_output_chunk":
      reply.outputChunk(data.stepId, data.chunk);
      return true;
    case "step_finished":
      reply.finishStep(data.step);
      return true;
    default:
      return false;
  }
}

/**
 * POST /start: 202 with {requestId, threadId, streamUrl}. A thread still finishing a reply
 * that was just stopped answers 409 thread_busy for a moment, so that refusal is retried
 * briefly before it is shown.
 */
async function postStart(body, signal) {
  for (let attempt = 0; ; attempt++) {
    const response = await call("start", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      signal,
    });
    if (response.ok) return response.json();
    const error = await errorOf(response);
    if (error.code !== "thread_busy" || attempt >= BUSY_RETRIES) throw error;
    await new Promise((resolve) => setTimeout(resolve, 250 * (attempt + 1)));
  }
}

/**
 * The run's stream, relative to the page like every other call: streamUrl starts at the
 * server's root, which is not the page's root behind a proxy that adds a path prefix.
 */
function streamUrlOf(started) {
  return new URL(started.streamUrl.replace(/^\/+/, ""), document.baseURI);
}

/**
 * Ask the server to cancel the run; its stream then ends with a final frame. If the server
 * cannot (or is slow to), stop following the stream: a run nobody follows is cancelled once
 * the server's RECONNECT_GRACE_SECONDS are over.
 */
async function stop() {
  const turn = run;
  if (!turn || turn.stopping) return;
  turn.stopping = true;
  ui.stop.disabled = true;
  let accepted = false;
  try {
    const response = await call(`cancel/${encodeURIComponent(turn.requestId)}`, { method: "POST" });
    accepted = response.ok;
  } catch {
    accepted = false;
  }
  if (!accepted) {
    turn.controller.abort();
    return;
  }
  setTimeout(() => {
    if (run === turn) turn.controller.abort();
  }, CANCEL_GRACE_MS);
}

function startNewThread() {
  if (run) run.controller.abort();
  state.threadId = newId();
  saveState();
  ui.transcript.textContent = "";
  showNotice("");
  showThread();
  ui.message.focus();
}

// --- Wiring -----------------------------------------------------------------------------------

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const content = ui.message.value.trim();
  if (!content || run || catalog.length === 0) return;
  send(content);
});

ui.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composer.requestSubmit();
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && run) stop();
});

ui.stop.addEventListener("click", stop);
ui.newThread.addEventListener("click", startNewThread);

ui.graph.addEventListener("change", () => {
  const graph = catalog.find((g) => g.name === ui.graph.value);
  renderVersions(graph, null);
  // A thread belongs to one graph; another graph starts another thread.
  if (graph.name !== state.graph) startNewThread();
  state.graph = graph.name;
  state.ref = ui.version.value;
  saveState();
});

ui.version.addEventListener("change", () => {
  const version = currentVersion();
  renderSettings(version);
  state.ref = version.ref;
  saveState();
});

ui.settings.addEventListener("input", () => {
  const version = currentVersion();
  if (!version) return;
  state.settings[version.ref] = settingsValues();
  saveState();
});
ui.settings.addEventListener("submit", (event) => event.preventDefault());

ui.keyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  state.apiKey = ui.apiKey.value.trim();
  saveState();
  ui.keyAlert.hidden = true;
  if (run === null) connect();
});

/** Read the graphs and the thread's history; again whenever the API key changes. */
async function connect() {
  document.body.dataset.state = "loading";
  ui.transcript.textContent = "";
  showNotice("");
  await adoptCredentialUser();
  await loadCatalog();
  if (catalog.length > 0) await loadHistory();
  setBusy(false); // only now: a turn sent sooner would land above the history
  if (ui.keyAlert.hidden) ui.message.focus();
}

saveState();
showThread();
ui.apiKey.value = state.apiKey;
connect();

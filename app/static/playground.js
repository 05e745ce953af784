// The playground: pick a graph version, tune its settings, chat with it token by token.
//
// Everything goes through the server's public API (/graph-types, /stream, /cancel/{id},
// /threads/{id}/messages), exactly as any other client would use it. URLs are relative to the
// page so that it also works behind a reverse proxy that serves the server under a prefix.

import { readEvents } from "./sse.js";

const STORE_KEY = "agent-playground";
const CANCEL_GRACE_MS = 5000; // after /cancel said yes, how long to wait for the final frame
const BUSY_RETRIES = 6; // about five seconds of waiting for a thread to finish its last turn

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

/** fetch() with the API key, if one is set; a 401 asks the user for a key. */
async function call(path, init = {}) {
  const headers = new Headers(init.headers);
  if (state.apiKey) headers.set("Authorization", `Bearer ${state.apiKey}`);
  const response = await fetch(path instanceof URL ? path : api(path), { ...init, headers });
  if (response.status === 401) askForKey();
  return response;
}

function askForKey() {
  ui.keyAlert.textContent = state.apiKey
    ? "The server refused this API key. Enter another one."
    : "This server needs an API key. Enter it to continue.";
  ui.keyAlert.hidden = false;
  ui.settingsPanel.open = true;
  ui.apiKey.focus();
}

class ServerError extends Error {
  constructor({ code, message }) {
    super(message || "The server reported an error.");
    this.code = code || "error";
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
  return item;
}

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
    const body = await response.json();
    for (const m of body.messages ?? []) {
      if (m.role === "user" || m.role === "assistant") addMessage(m.role, m.content);
    }
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
  ui.description.textContent = version.description ?? "";
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

async function send(content) {
  const version = currentVersion();
  if (!version) return;
  const values = settingsValues();
  if (!ui.settings.checkValidity()) {
    ui.settingsPanel.open = true;
    ui.settings.reportValidity();
    return;
  }
  const turn = {
    requestId: newId(),
    controller: new AbortController(),
    startedAt: performance.now(),
    firstAt: null,
    endedAt: null,
    chunks: 0,
  };
  run = turn;
  showNotice("");
  addMessage("user", content);
  const item = addMessage("assistant");
  item.dataset.status = "streaming";
  item.dataset.requestId = turn.requestId;
  const text = item.querySelector(".text");
  // Screen readers hold a busy live region's updates and read the reply once, when it is done.
  text.setAttribute("aria-live", "polite");
  text.setAttribute("aria-busy", "true");
  ui.message.value = "";
  setBusy(true);
  scrollToEnd(true);

  const body = {
    requestId: turn.requestId,
    threadId: state.threadId,
    userId: state.userId,
    agentId: "playground",
    graphType: version.ref.split("::")[0],
    graphSettings: { graphType: version.ref, ...values },
    message: { content },
  };
  try {
    const response = await postStream(body, turn.controller.signal);
    let final = null;
    for await (const event of readEvents(response.body)) {
      if (event.event === "stream_event") {
        const data = JSON.parse(event.data);
        if (data.type !== "chunk") continue;
        turn.firstAt ??= performance.now();
        turn.chunks += 1;
        text.textContent += data.content;
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
    text.textContent = final.text;
    const cancelled = final.metadata?.finishReason === "cancelled";
    finishReply(item, cancelled ? "stopped" : "done", formatMetrics(turn, final));
  } catch (err) {
    if (turn.controller.signal.aborted) {
      finishReply(item, "stopped", "Stopped.");
    } else if (err instanceof ServerError) {
      finishReply(item, "error", `${err.code}: ${err.message}`, true);
    } else {
      finishReply(item, "error", `The request failed: ${err.message}`, true);
    }
  } finally {
    if (run === turn) run = null;
    setBusy(false);
    scrollToEnd();
  }
}

/**
 * POST /stream; a thread still finishing a reply that was just stopped answers 409
 * thread_busy for a moment, so that refusal is retried briefly before it is shown.
 */
async function postStream(body, signal) {
  for (let attempt = 0; ; attempt++) {
    const response = await call("stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal,
    });
    if (response.ok) return response;
    const error = await errorOf(response);
    if (error.code !== "thread_busy" || attempt >= BUSY_RETRIES) throw error;
    await new Promise((resolve) => setTimeout(resolve, 250 * (attempt + 1)));
  }
}

/** Ask the server to cancel the run; abort the request if it cannot (or is slow to). */
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
  await loadCatalog();
  if (catalog.length > 0) await loadHistory();
  setBusy(false); // only now: a turn sent sooner would land above the history
  if (ui.keyAlert.hidden) ui.message.focus();
}

saveState();
showThread();
ui.apiKey.value = state.apiKey;
connect();

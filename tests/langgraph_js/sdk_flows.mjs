// Drives a LangGraph API server with LangGraph's own JavaScript client (`Client` from
// @langchain/langgraph-sdk), exactly as its users call it, and prints ONE JSON document of what
// it observed. tests/langgraph_js/test_js_sdk.py runs it against our server and asserts on it;
// run it by hand against `langgraph dev` to compare:
//
//   node tests/langgraph_js/sdk_flows.mjs --url http://127.0.0.1:2024 \
//     --chat streaming-chat-1.1.0 --agent tool-agent-1.0.0 all
//
// Flows: assistants, chat, threads, modes, background, cancel, agent, stateless, all (the default).
// Options: --url (or LANGGRAPH_TEST_URL), --api-key (or LANGGRAPH_TEST_API_KEY; sent as
// `Authorization: Bearer <key>`), --chat / --agent (assistant ids), --resume (the answer to
// save_note's approval, "approve" unless told), --timeout seconds.
// Exit status 0 when every flow ran to its end; 1 with an "error" entry otherwise.

import { Client } from "@langchain/langgraph-sdk";

function parseArgs(argv) {
  const options = {
    url: process.env.LANGGRAPH_TEST_URL,
    apiKey: process.env.LANGGRAPH_TEST_API_KEY,
    chat: "streaming-chat",
    agent: "tool-agent",
    resume: "approve",
    timeout: 60,
    flows: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--url") options.url = value();
    else if (arg === "--api-key") options.apiKey = value();
    else if (arg === "--chat") options.chat = value();
    else if (arg === "--agent") options.agent = value();
    else if (arg === "--resume") options.resume = value();
    else if (arg === "--timeout") options.timeout = Number(value());
    else if (arg.startsWith("--")) throw new Error(`unknown option ${arg}`);
    else options.flows.push(arg);
  }
  if (!options.url) throw new Error("no server: pass --url or set LANGGRAPH_TEST_URL");
  if (options.flows.length === 0) options.flows = ["all"];
  return options;
}

const options = parseArgs(process.argv.slice(2));
const client = new Client({
  apiUrl: options.url,
  // null: never read LANGGRAPH_API_KEY & co. from the environment; our server wants a bearer.
  apiKey: null,
  defaultHeaders: options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : {},
  timeoutMs: 20_000,
  // A refused request must show up as the refusal, not as four silent retries.
  callerOptions: { maxRetries: 0 },
});

const observed = { url: options.url, flows: options.flows };

const user = (content) => ({ messages: [{ role: "user", content }] });

/** The text of a message in any of the shapes the API sends (string or content blocks). */
function text(message) {
  const content = message?.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((b) => (typeof b === "string" ? b : (b?.text ?? ""))).join("");
  }
  return "";
}

const brief = (m) => ({
  type: m.type,
  text: text(m),
  id: m.id ?? null,
  tool_calls: (m.tool_calls ?? []).map((c) => ({ name: c.name, args: c.args })),
  name: m.name ?? null,
});

/** Every part of a stream, kept small: event name, and what the tests look at. */
async function collect(stream, { onPart } = {}) {
  const parts = [];
  for await (const part of stream) {
    parts.push(part);
    if (onPart) await onPart(part, parts);
  }
  return parts;
}

/** The "messages" (messages-tuple) parts as [text, type, node] of each chunk. */
function messageTuples(parts) {
  return parts
    .filter((p) => p.event === "messages" || p.event.startsWith("messages|"))
    .map((p) => {
      const [chunk, metadata] = p.data;
      return {
        text: text(chunk),
        type: chunk?.type ?? null,
        id: chunk?.id ?? null,
        node: metadata?.langgraph_node ?? null,
        tool_call_chunks: (chunk?.tool_call_chunks ?? []).length,
      };
    });
}

function summary(parts) {
  return parts.map((p) => p.event);
}

function lastValues(parts) {
  const values = parts.filter((p) => p.event === "values");
  return values.length ? values[values.length - 1].data : null;
}

function stateSummary(state) {
  const messages = state?.values?.messages ?? [];
  return {
    messages: messages.map(brief),
    next: state?.next ?? null,
    checkpoint_id: state?.checkpoint?.checkpoint_id ?? null,
    parent_checkpoint_id: state?.parent_checkpoint?.checkpoint_id ?? null,
    tasks: (state?.tasks ?? []).map((t) => ({
      name: t.name,
      interrupts: (t.interrupts ?? []).map((i) => ({ value: i.value, id: i.id ?? null })),
    })),
    interrupts: (state?.interrupts ?? []).map((i) => ({ value: i.value, id: i.id ?? null })),
    created_at: state?.created_at ?? null,
  };
}

const flows = {
  /** assistants.search, get by graph name, getGraph, getSchemas. */
  async assistants(out) {
    const found = await client.assistants.search({ limit: 50 });
    out.search = found.map((a) => ({ assistant_id: a.assistant_id, graph_id: a.graph_id }));
    // Our server also takes a graph name here; langgraph-api wants the assistant's UUID.
    try {
      const byName = await client.assistants.get(options.chat);
      out.get_by_name = { assistant_id: byName.assistant_id, graph_id: byName.graph_id };
    } catch (error) {
      out.get_by_name = { error: describe(error).message, status: error?.status ?? null };
    }
    const match = found.find((a) => a.graph_id === options.chat || a.assistant_id === options.chat);
    const id = match?.assistant_id ?? options.chat;
    const chat = await client.assistants.get(id);
    out.get = { assistant_id: chat.assistant_id, graph_id: chat.graph_id, name: chat.name };
    const graph = await client.assistants.getGraph(id);
    out.graph = {
      nodes: (graph.nodes ?? []).map((n) => n.id),
      edges: (graph.edges ?? []).length,
    };
    const schemas = await client.assistants.getSchemas(id);
    out.schemas = {
      keys: Object.keys(schemas).sort(),
      input_properties: Object.keys(schemas.input_schema?.properties ?? {}).sort(),
      state_properties: Object.keys(schemas.state_schema?.properties ?? {}).sort(),
    };
  },

  /** Two turns on one thread: tokens, the state holding both, the history growing, search. */
  async chat(out) {
    const marker = `js-sdk-${Date.now()}-${Math.random().toString(16).slice(2)}`;
    const thread = await client.threads.create({ metadata: { suite: marker } });
    out.thread = { thread_id: thread.thread_id, status: thread.status, metadata: thread.metadata };
    const threadId = thread.thread_id;

    const run1 = {};
    const parts1 = await collect(
      client.runs.stream(threadId, options.chat, {
        input: user("Hello there, first turn"),
        streamMode: "messages-tuple",
        onRunCreated: (meta) => {
          run1.created = meta;
        },
      }),
    );
    run1.events = summary(parts1);
    run1.tuples = messageTuples(parts1);
    run1.metadata = parts1.find((p) => p.event === "metadata")?.data ?? null;
    out.turn1 = run1;
    out.state1 = stateSummary(await client.threads.getState(threadId));
    out.history1 = (await client.threads.getHistory(threadId, { limit: 50 })).map(stateSummary);

    const parts2 = await collect(
      client.runs.stream(threadId, options.chat, {
        input: user("And a second turn"),
        streamMode: "messages-tuple",
      }),
    );
    out.turn2 = { events: summary(parts2), tuples: messageTuples(parts2) };
    out.state2 = stateSummary(await client.threads.getState(threadId));
    out.history2 = (await client.threads.getHistory(threadId, { limit: 50 })).map(stateSummary);
    // The history of one earlier checkpoint: the state as it was after the first turn.
    const head1 = out.state1.checkpoint_id;
    if (head1) {
      const past = await client.threads.getState(threadId, head1);
      out.state_at_turn1 = stateSummary(past);
    }

    const fetched = await client.threads.get(threadId);
    out.thread_after = {
      status: fetched.status,
      values_messages: (fetched.values?.messages ?? []).length,
    };
    const search = await client.threads.search({ metadata: { suite: marker }, limit: 10 });
    out.search = search.map((t) => ({ thread_id: t.thread_id, status: t.status }));
    // How agent-chat-ui lists a graph's threads when its assistant id is a graph name.
    const byGraph = await client.threads.search({
      metadata: { graph_id: options.chat },
      limit: 100,
    });
    out.search_by_graph_id = byGraph.map((t) => t.thread_id).includes(threadId);
    out.thread_metadata = fetched.metadata;
  },

  /** threads.update (PATCH), updateState (POST state) as the chat node, delete. */
  async threads(out) {
    const thread = await client.threads.create({ metadata: { stage: "one", keep: "yes" } });
    const threadId = thread.thread_id;
    out.thread_id = threadId;
    await client.runs.wait(threadId, options.chat, { input: user("a turn to edit") });
    const before = await client.threads.getState(threadId);
    out.before = stateSummary(before);

    const updated = await client.threads.update(threadId, { metadata: { stage: "two" } });
    out.updated_metadata = updated.metadata;
    out.fetched_metadata = (await client.threads.get(threadId)).metadata;

    const written = await client.threads.updateState(threadId, {
      values: { messages: [{ type: "ai", content: "An edited answer." }] },
      asNode: "chat",
    });
    out.update_state = {
      keys: Object.keys(written ?? {}),
      checkpoint_id: written?.checkpoint?.checkpoint_id ?? null,
    };
    out.after = stateSummary(await client.threads.getState(threadId));
    out.history = (await client.threads.getHistory(threadId, { limit: 50 })).length;

    await client.threads.delete(threadId);
    try {
      await client.threads.get(threadId);
      out.after_delete = { status: 200 };
    } catch (error) {
      out.after_delete = { status: error?.status ?? null };
    }
  },

  /** streamMode "values", "updates", several at once, and runs.wait on one thread. */
  async modes(out) {
    const thread = await client.threads.create();
    const threadId = thread.thread_id;
    out.thread_id = threadId;

    const values = await collect(
      client.runs.stream(threadId, options.chat, {
        input: user("values turn"),
        streamMode: "values",
      }),
    );
    out.values = {
      events: summary(values),
      snapshots: values
        .filter((p) => p.event === "values")
        .map((p) => (p.data?.messages ?? []).map(brief)),
    };

    const updates = await collect(
      client.runs.stream(threadId, options.chat, {
        input: user("updates turn"),
        streamMode: "updates",
      }),
    );
    out.updates = {
      events: summary(updates),
      nodes: updates
        .filter((p) => p.event === "updates")
        .map((p) => Object.keys(p.data ?? {})),
      written: updates
        .filter((p) => p.event === "updates")
        .flatMap((p) => Object.values(p.data ?? {}))
        .flatMap((w) => (w?.messages ?? []).map(brief)),
    };

    const several = await collect(
      client.runs.stream(threadId, options.chat, {
        input: user("several modes turn"),
        streamMode: ["messages-tuple", "values", "updates"],
      }),
    );
    out.several = {
      events: summary(several),
      tuples: messageTuples(several),
      last_values: (lastValues(several)?.messages ?? []).map(brief),
    };

    const waited = await client.runs.wait(threadId, options.chat, { input: user("wait turn") });
    out.wait = { keys: Object.keys(waited ?? {}), messages: (waited?.messages ?? []).map(brief) };
    out.state = stateSummary(await client.threads.getState(threadId));
  },

  /** runs.create then runs.join; runs.create then joinStream from the start. */
  async background(out) {
    const thread = await client.threads.create();
    const threadId = thread.thread_id;
    out.thread_id = threadId;

    const run = await client.runs.create(threadId, options.chat, { input: user("background one") });
    out.created = { run_id: run.run_id, thread_id: run.thread_id, status: run.status };
    const joined = await client.runs.join(threadId, run.run_id);
    out.joined = {
      keys: Object.keys(joined ?? {}),
      messages: (joined?.messages ?? []).map(brief),
    };

    const second = await client.runs.create(threadId, options.chat, {
      input: user("background two"),
      streamMode: ["messages-tuple", "values"],
      streamResumable: true,
    });
    out.second = { run_id: second.run_id, status: second.status };
    const parts = await collect(client.runs.joinStream(threadId, second.run_id));
    out.join_stream = {
      events: summary(parts),
      tuples: messageTuples(parts),
      last_values: (lastValues(parts)?.messages ?? []).map(brief),
    };
    // A finished run replays from the start for a client that asks with Last-Event-ID -1
    // (what useStream's reconnect sends).
    const replay = await collect(
      client.runs.joinStream(threadId, second.run_id, { lastEventId: "-1" }),
    );
    out.replay = { events: summary(replay), tuples: messageTuples(replay) };
    out.state = stateSummary(await client.threads.getState(threadId));
  },

  /** A background run cancelled while its tokens stream; the thread is usable afterwards. */
  async cancel(out) {
    const thread = await client.threads.create();
    const threadId = thread.thread_id;
    out.thread_id = threadId;
    const run = await client.runs.create(threadId, options.chat, {
      input: user("tell me a long story"),
      streamMode: ["messages-tuple"],
      streamResumable: true,
    });
    out.run_id = run.run_id;
    let cancelledAfter = null;
    const started = Date.now();
    const parts = await collect(client.runs.joinStream(threadId, run.run_id), {
      onPart: async (part, seen) => {
        const tokens = messageTuples(seen).filter((t) => t.text).length;
        if (cancelledAfter === null && tokens >= 2) {
          cancelledAfter = tokens;
          out.cancel_response = (await client.runs.cancel(threadId, run.run_id)) ?? null;
        }
      },
    });
    out.tokens_before_cancel = cancelledAfter;
    out.stream = { events: summary(parts), tuples: messageTuples(parts) };
    out.stream_seconds = (Date.now() - started) / 1000;
    const joined = await client.runs.join(threadId, run.run_id);
    out.joined_keys = Object.keys(joined ?? {});
    const fetched = await client.threads.get(threadId);
    out.thread_status = fetched.status;

    // The thread takes another run once the cancelled one is over.
    const after = await client.runs.wait(threadId, options.chat, { input: user("after cancel") });
    out.after = (after?.messages ?? []).map(brief);
  },

  /** tool-agent: a calculator turn, then save_note interrupts; resume with --resume. */
  async agent(out) {
    const thread = await client.threads.create();
    const threadId = thread.thread_id;
    out.thread_id = threadId;

    const calc = await collect(
      client.runs.stream(threadId, options.agent, {
        input: user("What is 17*23?"),
        streamMode: ["updates", "messages-tuple"],
      }),
    );
    out.calculator = {
      events: summary(calc),
      nodes: calc.filter((p) => p.event === "updates").map((p) => Object.keys(p.data ?? {})),
      tuples: messageTuples(calc),
    };
    out.state_after_calculator = stateSummary(await client.threads.getState(threadId));

    const note = await collect(
      client.runs.stream(threadId, options.agent, {
        input: user("Please remember that the demo is on Friday"),
        streamMode: ["updates", "values"],
      }),
    );
    const interruptUpdates = note
      .filter((p) => p.event === "updates" && p.data?.__interrupt__)
      .flatMap((p) => p.data.__interrupt__);
    const interruptValues = note
      .filter((p) => p.event === "values" && p.data?.__interrupt__)
      .flatMap((p) => p.data.__interrupt__);
    out.note = {
      events: summary(note),
      interrupt_from_updates: interruptUpdates.map((i) => ({ value: i.value, id: i.id ?? null })),
      interrupt_from_values: interruptValues.map((i) => ({ value: i.value, id: i.id ?? null })),
    };
    const interrupted = await client.threads.getState(threadId);
    out.state_interrupted = stateSummary(interrupted);
    out.thread_status_interrupted = (await client.threads.get(threadId)).status;

    const resumed = await collect(
      client.runs.stream(threadId, options.agent, {
        command: { resume: options.resume },
        streamMode: ["updates", "messages-tuple", "values"],
      }),
    );
    out.resumed = {
      events: summary(resumed),
      nodes: resumed.filter((p) => p.event === "updates").map((p) => Object.keys(p.data ?? {})),
      tuples: messageTuples(resumed),
      last_values: (lastValues(resumed)?.messages ?? []).map(brief),
    };
    out.state_final = stateSummary(await client.threads.getState(threadId));
    out.thread_status_final = (await client.threads.get(threadId)).status;
  },

  /** Stateless runs: POST /runs/stream and /runs/wait with no thread. */
  async stateless(out) {
    const parts = await collect(
      client.runs.stream(null, options.chat, {
        input: user("stateless stream"),
        streamMode: ["messages-tuple", "values"],
      }),
    );
    out.stream = {
      events: summary(parts),
      tuples: messageTuples(parts),
      last_values: (lastValues(parts)?.messages ?? []).map(brief),
    };
    const waited = await client.runs.wait(null, options.chat, { input: user("stateless wait") });
    out.wait = { messages: (waited?.messages ?? []).map(brief) };
  },
};

const ALL = [
  "assistants",
  "chat",
  "threads",
  "modes",
  "background",
  "cancel",
  "agent",
  "stateless",
];

function describe(error) {
  return {
    name: error?.name ?? null,
    message: String(error?.message ?? error),
    status: error?.status ?? null,
    stack: String(error?.stack ?? "")
      .split("\n")
      .slice(0, 6)
      .join("\n"),
  };
}

let printed = false;
function finish(code) {
  if (printed) return;
  printed = true;
  // Exit once the pipe has taken it all: process.exit() alone cuts a pipe's output at 64 KiB.
  process.stdout.write(`${JSON.stringify(observed, null, 2)}\n`, () => process.exit(code));
}

setTimeout(() => {
  observed.error = { message: `timed out after ${options.timeout} s`, flow: observed.current };
  finish(1);
}, options.timeout * 1000).unref();

async function main() {
  const names = options.flows.flatMap((f) => (f === "all" ? ALL : [f]));
  const unknown = names.filter((name) => !(name in flows));
  if (unknown.length) {
    observed.error = { message: `unknown flow ${unknown}; known: ${ALL.join(", ")}, all` };
    return 2;
  }
  for (const name of names) {
    observed.current = name;
    const out = {};
    observed[name] = out;
    try {
      await flows[name](out);
    } catch (error) {
      observed.error = { flow: name, ...describe(error) };
      return 1;
    }
  }
  delete observed.current;
  return 0;
}

finish(await main());

// A chat page on LangGraph's React hook, `useStream` from @langchain/langgraph-sdk/react,
// written as its users write one. build.mjs bundles it with React and the SDK (no CDN);
// tests/langgraph_js/test_use_stream.py serves the bundle and drives it in Chromium.
//
// Query parameters: apiUrl (the LangGraph API), assistantId (a graph name or assistant id),
// threadId (reopen a thread), history=1 (fetchStateHistory: POST /threads/{id}/history
// instead of GET /threads/{id}/state), reconnect=1 (reconnectOnMount: rejoin a run that was
// streaming when the page went away).
import { useStream } from "@langchain/langgraph-sdk/react";
import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";

const params = new URLSearchParams(window.location.search);

// What the tests read besides the DOM: each render's loading flag and last AI text (to see
// tokens arrive before the run ends), and the errors the hook reported.
window.__renders = [];
window.__errors = [];

function text(message) {
  const content = message?.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((b) => b?.text ?? "").join("");
  return "";
}

function rememberThread(threadId) {
  const url = new URL(window.location.href);
  url.searchParams.set("threadId", threadId);
  window.history.replaceState(null, "", url);
}

function App() {
  const [threadId, setThreadId] = useState(params.get("threadId"));
  const [draft, setDraft] = useState("");
  const stream = useStream({
    apiUrl: params.get("apiUrl"),
    assistantId: params.get("assistantId") ?? "streaming-chat",
    messagesKey: "messages",
    threadId,
    onThreadId: (id) => {
      setThreadId(id);
      rememberThread(id);
    },
    fetchStateHistory: params.get("history") === "1" ? { limit: 10 } : false,
    reconnectOnMount: params.get("reconnect") === "1",
    onError: (error) => window.__errors.push(String(error?.message ?? error)),
  });

  const messages = stream.messages;
  const lastAi = [...messages].reverse().find((m) => m.type === "ai");
  useEffect(() => {
    window.__renders.push({ loading: stream.isLoading, last: text(lastAi) });
  });

  const send = (event) => {
    event.preventDefault();
    const content = draft.trim();
    if (!content) return;
    setDraft("");
    stream.submit({ messages: [{ type: "human", content }] });
  };

  const interrupt = stream.interrupt;
  return (
    <main data-loading={String(stream.isLoading)} data-ready="1">
      <p id="thread">{threadId ?? ""}</p>
      <ol id="messages">
        {messages.map((m, i) => (
          <li key={m.id ?? i} data-type={m.type} data-id={m.id ?? ""}>
            {text(m)}
          </li>
        ))}
      </ol>
      <pre id="interrupt">{interrupt ? JSON.stringify(interrupt.value ?? interrupt) : ""}</pre>
      <p id="error">{stream.error ? String(stream.error?.message ?? stream.error) : ""}</p>
      <form onSubmit={send}>
        <input id="draft" value={draft} onChange={(e) => setDraft(e.target.value)} />
        <button id="send" type="submit">
          Send
        </button>
      </form>
      <button id="stop" type="button" onClick={() => stream.stop()}>
        Stop
      </button>
      <button
        id="approve"
        type="button"
        onClick={() => stream.submit(undefined, { command: { resume: "approve" } })}
      >
        Approve
      </button>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);

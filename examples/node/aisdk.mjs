// A tool turn through the AI SDK's own client, as useChat runs it (AbstractChat with
// DefaultChatTransport, here without React), against POST /api/chat:
//   node examples/node/aisdk.mjs [server] [message] [chat id] [--decline]
// It prints the text as it streams and each tool call's state; an approval the server asks
// for is answered (approved, or declined with --decline) and the chat sends it on by itself.
import { AbstractChat, DefaultChatTransport, lastAssistantMessageIsCompleteWithApprovalResponses } from "ai";

const args = process.argv.slice(2).filter((a) => a !== "--decline");
const decline = process.argv.includes("--decline");
const [base = "http://127.0.0.1:8000", text = "Remember that the demo is on Friday", chatId = `ai-${Date.now()}`] = args;
const headers = process.env.API_KEY ? { Authorization: `Bearer ${process.env.API_KEY}` } : {};

const shown = new Map(); // part key -> what was printed of it
function show(message) {
  if (message.role !== "assistant") return;
  message.parts.forEach((part, index) => {
    const key = `${message.id}:${index}`;
    if (part.type === "text") {
      const before = shown.get(key) ?? "";
      process.stdout.write(part.text.slice(before.length));
      shown.set(key, part.text);
    } else if (part.type.startsWith("tool-") && shown.get(key) !== part.state) {
      shown.set(key, part.state);
      const detail = part.state === "output-available" ? ` -> ${JSON.stringify(part.output)}` : "";
      console.log(`\n[${part.type.slice(5)} ${part.state}${part.input ? ` ${JSON.stringify(part.input)}` : ""}${detail}]`);
    } else if (part.type.startsWith("data-") && !shown.has(key)) {
      shown.set(key, true);
      console.log(`\n[${part.type} ${JSON.stringify(part.data)}]`);
    }
  });
}

class State {
  status = "ready";
  error = undefined;
  messages = [];
  pushMessage(message) { this.messages = [...this.messages, message]; show(message); }
  popMessage() { this.messages = this.messages.slice(0, -1); }
  replaceMessage(index, message) {
    this.messages = this.messages.with(index, structuredClone(message));
    show(message);
  }
  snapshot(thing) { return structuredClone(thing); }
}

class NodeChat extends AbstractChat {
  constructor(init) { super({ ...init, state: new State() }); }
}

let failed = false;
const chat = new NodeChat({
  id: chatId,
  transport: new DefaultChatTransport({ api: `${base}/api/chat`, headers, body: { graphType: "tool-agent" } }),
  sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
  onError: (error) => { failed = true; console.error(`\nerror: ${error.message}`); },
});

async function idle() {
  await new Promise((r) => setTimeout(r, 50));
  while (chat.status === "submitted" || chat.status === "streaming") await new Promise((r) => setTimeout(r, 20));
}

await chat.sendMessage({ text });
await idle();
for (const message of chat.messages) {
  for (const part of message.parts) {
    if (part.state === "approval-requested") {
      console.log(`\n[approval ${part.approval.id}: ${decline ? "declined" : "approved"}]`);
      await chat.addToolApprovalResponse({ id: part.approval.id, approved: !decline });
    }
  }
}
await idle();
const last = chat.messages.at(-1);
console.log(`\n${JSON.stringify({ chatId, metadata: last?.metadata ?? null })}`);
process.exit(failed || chat.status === "error" ? 1 : 0);

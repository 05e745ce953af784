// A tool turn through AG-UI's own client, HttpAgent (@ag-ui/client), against POST /ag-ui:
//   node examples/node/agui.mjs [server] [message] [thread id] [--decline]
// It prints the text as it streams and each tool call; an interrupt the run ends with is
// answered (resolved with {approved: true}, or cancelled with --decline) in a second run.
import { HttpAgent } from "@ag-ui/client";
import { randomUUID } from "node:crypto";

const args = process.argv.slice(2).filter((a) => a !== "--decline");
const decline = process.argv.includes("--decline");
const [base = "http://127.0.0.1:8000", text = "Remember that the demo is on Friday", threadId = `ag-${Date.now()}`] = args;
const headers = process.env.API_KEY ? { Authorization: `Bearer ${process.env.API_KEY}` } : {};

const agent = new HttpAgent({ url: `${base}/ag-ui/tool-agent`, headers, threadId });
const subscriber = {
  onTextMessageContentEvent: ({ event }) => { process.stdout.write(event.delta); },
  onToolCallEndEvent: ({ toolCallName, toolCallArgs }) => {
    console.log(`\n[${toolCallName} ${JSON.stringify(toolCallArgs)}]`);
  },
  onToolCallResultEvent: ({ event }) => { console.log(`[result ${JSON.stringify(event.content)}]`); },
  onCustomEvent: ({ event }) => { console.log(`\n[${event.name} ${JSON.stringify(event.value)}]`); },
  onRunErrorEvent: ({ event }) => { console.error(`\nerror ${event.code}: ${event.message}`); },
};

try {
  agent.addMessage({ id: randomUUID(), role: "user", content: text });
  await agent.runAgent({ runId: randomUUID() }, subscriber);
  for (const interrupt of agent.pendingInterrupts) {
    console.log(`\n[interrupt ${interrupt.id}: ${interrupt.message} -> ${decline ? "cancelled" : "resolved"}]`);
  }
  if (agent.pendingInterrupts.length > 0) {
    const resume = agent.pendingInterrupts.map((interrupt) => ({
      interruptId: interrupt.id,
      status: decline ? "cancelled" : "resolved",
      payload: { approved: !decline },
    }));
    await agent.runAgent({ runId: randomUUID(), resume }, subscriber);
  }
  console.log(`\n${JSON.stringify({ threadId, messages: agent.messages.length })}`);
} catch (error) {
  console.error(`\nerror: ${error.message}`);
  process.exit(1);
}

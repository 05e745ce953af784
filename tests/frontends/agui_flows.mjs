// Drives POST /ag-ui with AG-UI's own client, HttpAgent (@ag-ui/client 1.x), whose verifier
// checks the events' order and throws on a violation. Usage:
//   node agui_flows.mjs <base url> '<json: {path, threadId, steps: [...], headers?}>'
// Steps: {send: "text"} | {resume: "resolved"|"cancelled", payload?} | {again: true} (a run
//        with no new message)
// Prints one JSON object: every event each run received, its result or error, the messages.
import { HttpAgent } from "@ag-ui/client";
import { randomUUID } from "node:crypto";

const [base, spec] = process.argv.slice(2);
const { path = "/ag-ui", threadId, steps, headers = {}, forwardedProps = {} } = JSON.parse(spec);
const agent = new HttpAgent({ url: `${base}${path}`, headers, threadId });

const runs = [];
for (const step of steps) {
  const events = [];
  const params = { runId: randomUUID(), forwardedProps };
  if (step.send !== undefined) {
    agent.addMessage({ id: randomUUID(), role: "user", content: step.send });
  } else if (step.resume !== undefined) {
    params.resume = agent.pendingInterrupts.map((interrupt) => ({
      interruptId: interrupt.id,
      status: step.resume,
      ...(step.payload === undefined ? {} : { payload: step.payload }),
    }));
  }
  const run = { step, pending: [] };
  try {
    const result = await agent.runAgent(params, {
      onEvent: ({ event }) => {
        events.push(event);
      },
    });
    run.result = result.result ?? null;
  } catch (error) {
    run.error = String(error?.message ?? error);
  }
  run.events = events;
  run.pending = agent.pendingInterrupts;
  runs.push(run);
}
console.log(JSON.stringify({ runs, messages: agent.messages }));

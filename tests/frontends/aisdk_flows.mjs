// Drives POST /api/chat with the AI SDK's own client, as useChat does: AbstractChat (with a
// plain ChatState instead of React's) over DefaultChatTransport, or readUIMessageStream over
// the transport's chunks. Usage:
//   node aisdk_flows.mjs <6|7> <base url> '<json: {chatId, steps: [...], headers?, body?}>'
// Steps: {send: "text"} | {approve: true|false} | {answer: value} | {resume: true}
//        | {regenerate: true}
//        | {stopAfterText: "text"}
//        | {raw: "text"} (readUIMessageStream; the chunks are printed too)
// Prints one JSON object: the messages, the chat's status and errors, the chunks of raw steps.
const [version, base, spec] = process.argv.slice(2);
const ai = await import(version === "6" ? "ai6" : "ai7");
const { AbstractChat, DefaultChatTransport, readUIMessageStream } = ai;
const lastAssistantMessageIsCompleteWithApprovalResponses =
  ai.lastAssistantMessageIsCompleteWithApprovalResponses;
const { chatId, steps, headers = {}, body = {} } = JSON.parse(spec);

class State {
  constructor() {
    this.status = "ready";
    this.error = undefined;
    this.messages = [];
  }
  pushMessage(message) {
    this.messages = this.messages.concat(message);
  }
  popMessage() {
    this.messages = this.messages.slice(0, -1);
  }
  replaceMessage(index, message) {
    this.messages = [
      ...this.messages.slice(0, index),
      this.snapshot(message),
      ...this.messages.slice(index + 1),
    ];
  }
  snapshot(thing) {
    return structuredClone(thing);
  }
}

class NodeChat extends AbstractChat {
  constructor(init) {
    super({ ...init, state: new State() });
  }
}

const errors = [];
const finishes = [];
const transport = new DefaultChatTransport({ api: `${base}/api/chat`, headers, body });
const chat = new NodeChat({
  id: chatId,
  transport,
  sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
  onError: (error) => errors.push(String(error?.message ?? error)),
  onFinish: ({ finishReason, isAbort, isError }) =>
    finishes.push({ finishReason: finishReason ?? null, isAbort, isError }),
});

async function settled(limitMs = 20000) {
  const end = Date.now() + limitMs;
  // An automatic send (after an approval) starts a moment after the answer.
  await new Promise((r) => setTimeout(r, 50));
  while (chat.status === "submitted" || chat.status === "streaming") {
    if (Date.now() > end) throw new Error(`chat still ${chat.status} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function approvalIds() {
  const ids = [];
  for (const message of chat.messages) {
    for (const part of message.parts) {
      if (part.state === "approval-requested" && part.approval) ids.push(part.approval.id);
    }
  }
  return ids;
}

const raw = [];
for (const step of steps) {
  if (step.send !== undefined) {
    await chat.sendMessage({ text: step.send });
    await settled();
  } else if (step.approve !== undefined) {
    const ids = approvalIds();
    if (ids.length === 0) throw new Error("no approval was requested");
    for (const id of ids) await chat.addToolApprovalResponse({ id, approved: step.approve });
    await settled();
  } else if (step.answer !== undefined) {
    // An interrupt no tool raised: continue the assistant message with resume in the body.
    await chat.sendMessage(undefined, { body: { ...body, resume: step.answer } });
    await settled();
  } else if (step.regenerate) {
    await chat.regenerate();
    await settled();
  } else if (step.resume) {
    await chat.resumeStream();
    await settled();
  } else if (step.stopAfterText !== undefined) {
    const sending = chat.sendMessage({ text: step.stopAfterText });
    const end = Date.now() + 20000;
    const texts = () =>
      chat.messages.at(-1)?.role === "assistant"
        ? chat.messages.at(-1).parts.filter((p) => p.type === "text" && p.text).length
        : 0;
    while (texts() === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    // useChat's stop() aborts the request (a disconnect); stopping the run is the app's call.
    const stopped = await fetch(`${base}/api/chat/${chatId}/stop`, { method: "POST", headers });
    raw.push({ stopStatus: stopped.status, stopBody: await stopped.json() });
    await sending;
    await settled();
  } else if (step.raw !== undefined) {
    const message = { id: `raw-${Date.now()}`, role: "user", parts: [{ type: "text", text: step.raw }] };
    const stream = await transport.sendMessages({
      chatId,
      messages: [message],
      trigger: "submit-message",
      messageId: undefined,
      abortSignal: undefined,
    });
    const [forChunks, forMessages] = stream.tee();
    const chunks = [];
    const reading = (async () => {
      const reader = forChunks.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
      }
    })();
    let last;
    for await (const uiMessage of readUIMessageStream({ stream: forMessages })) last = uiMessage;
    await reading;
    raw.push({ message: last, chunks });
  }
}

console.log(
  JSON.stringify({ status: chat.status, errors, finishes, messages: chat.messages, raw }),
);

// One assistant reply as the page shows it: the answer text, the tool steps that led to it,
// the attachments that came with it, and a question the agent stopped to ask.
//
// The same calls draw a reply as it streams and replay a saved one from the thread's history,
// so the two always look alike. Inside the bubble things appear in the order they happened:
// text the model wrote before calling a tool stays in place (greyed), each step is a collapsed
// block, and the answer (final.text: the text after the last step) is the .text element below.

const STATUS_LABELS = {
  running: "running",
  done: "done",
  error: "error",
  waiting: "waiting for an answer",
  incomplete: "not finished",
};

let lastId = 0;
const nextId = (prefix) => `${prefix}-${++lastId}`;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A tool's input or output as text: strings as they are, anything else as JSON. */
function show(value, indent) {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value, null, indent);
}

export class Reply {
  constructor(item) {
    this.item = item;
    this.text = item.querySelector(".text");
    this.flow = null; // created with the first step, just above the answer text
    this.steps = new Map(); // step id -> its <details>
    this.approval = null;
    this.attachments = []; // a turn continued after a question adds to what it had
  }

  /** Text the model writes; it is the answer unless a step follows it. */
  appendText(content) {
    this.text.textContent += content;
  }

  /** The turn's answer, as final.text says: the streamed text is replaced, never appended. */
  setText(content) {
    this.text.textContent = content;
  }

  /** A step starts; ``input`` is given when it is known whole (a saved tool call). */
  startStep({ id, name, input }) {
    const flow = this.#flow();
    const words = this.text.textContent;
    if (words) {
      // A step after text makes that text a preamble, not the answer: it moves into the flow.
      flow.append(el("p", "interim", words));
      this.text.textContent = "";
    }
    // A resumed turn starts the step it stopped at again: the same block carries on, in place.
    let step = this.steps.get(id);
    if (!step) {
      step = this.#newStep(id, name);
      flow.append(step);
      this.steps.set(id, step);
    }
    if (input !== undefined) this.#setInput(step, input);
    this.#status(step, "running");
    return step;
  }

  inputChunk(id, chunk) {
    const step = this.steps.get(id) ?? this.startStep({ id, name: "tool" });
    step.querySelector(".step-input").textContent += chunk;
    step.querySelector(".step-preview").textContent += chunk;
  }

  outputChunk(id, chunk) {
    const step = this.steps.get(id) ?? this.startStep({ id, name: "tool" });
    step.querySelector(".step-output").textContent += chunk;
  }

  /** A finished step: its whole input, pretty-printed, and its whole output replace the pieces. */
  finishStep({ id, name, input, output, status }) {
    const step = this.steps.get(id) ?? this.startStep({ id, name });
    if (input !== undefined) this.#setInput(step, input);
    if (output !== undefined) step.querySelector(".step-output").textContent = show(output, 2);
    this.#status(step, status === "error" ? "error" : "done");
  }

  /** Steps still open when the turn ends: waiting on an interrupt, or cut short. */
  settleSteps(status) {
    for (const step of this.steps.values()) {
      if (step.dataset.status !== "running" && step.dataset.status !== "waiting") continue;
      const raw = step.querySelector(".step-input").textContent;
      try {
        this.#setInput(step, JSON.parse(raw));
      } catch {
        // arguments cut off mid-way stay as they came
      }
      this.#status(step, status);
    }
  }

  get waitingSteps() {
    return [...this.steps.values()].filter((s) => s.dataset.status === "waiting");
  }

  showAttachments(attachments) {
    if (!Array.isArray(attachments) || attachments.length === 0) return;
    this.item.querySelector(".attachments")?.remove();
    this.attachments.push(...attachments);
    attachments = this.attachments;
    const box = el("div", "attachments");
    const citations = attachments.filter((a) => a?.type === "citation");
    if (citations.length > 0) {
      const section = el("section", "citations");
      const heading = el("h3", "attachments-heading", "Sources");
      heading.id = nextId("sources");
      section.setAttribute("aria-labelledby", heading.id);
      const list = el("ol");
      for (const c of citations) {
        const entry = el("li", "citation");
        // No link: a source names a passage of the project's docs, not a page to open.
        entry.append(el("span", "citation-title", c.title ?? "Untitled"));
        if (c.source) entry.append(" ", el("code", "citation-source", c.source));
        if (c.snippet) entry.append(el("p", "citation-snippet", c.snippet));
        list.append(entry);
      }
      section.append(heading, list);
      box.append(section);
    }
    for (const a of attachments) {
      if (a?.type === "citation") continue;
      if (a?.type === "note") {
        const note = el("section", "note");
        note.setAttribute("aria-label", `Note: ${a.title ?? ""}`);
        note.append(el("span", "note-label", "Note"), el("strong", "note-title", a.title ?? ""));
        if (a.text && a.text !== a.title) note.append(el("p", "note-text", a.text));
        box.append(note);
      } else {
        // Kinds this page does not draw yet (button, card, image) are shown as their data.
        const other = el("section", "attachment-other");
        other.append(el("span", "note-label", String(a?.type ?? "attachment")));
        other.append(el("pre", "", JSON.stringify(a, null, 2)));
        box.append(other);
      }
    }
    this.text.after(box);
  }

  /**
   * The question of an interrupt, with Approve and Decline; ``onAnswer(value)`` sends the
   * answer and resolves to true once the server took it, false if the page may ask again.
   */
  askApproval(interrupt, onAnswer) {
    if (this.approval?.dataset.interruptId === interrupt.id) return this.approval;
    const value = interrupt.value;
    const question =
      typeof value === "string" ? value : (value?.question ?? "The agent asks for approval.");
    const panel = el("div", "approval");
    panel.dataset.interruptId = interrupt.id ?? "";
    panel.setAttribute("role", "group");
    const q = el("p", "approval-question", question);
    q.id = nextId("question");
    panel.setAttribute("aria-labelledby", q.id);
    const label = el("span", "approval-label", "Approval needed");
    panel.append(label, q);
    const note = value?.note;
    if (note?.text && note.text !== note.title) panel.append(el("p", "approval-detail", note.text));
    const actions = el("div", "approval-actions");
    const approve = el("button", "approve", "Approve");
    const decline = el("button", "decline", "Decline");
    const result = el("p", "approval-result");
    result.setAttribute("role", "status");
    const hint = el("p", "approval-hint", "Answer this before sending another message.");
    hint.hidden = true;
    for (const [button, answer, said] of [
      [approve, "approve", "Approved."],
      [decline, "decline", "Declined."],
    ]) {
      button.type = "button";
      button.addEventListener("click", async () => {
        if (panel.dataset.answered) return;
        panel.dataset.answered = answer;
        approve.disabled = decline.disabled = true;
        button.setAttribute("aria-pressed", "true");
        hint.hidden = true;
        label.textContent = "Asked for approval";
        result.textContent = said;
        if (!(await onAnswer(answer))) {
          delete panel.dataset.answered;
          approve.disabled = decline.disabled = false;
          button.removeAttribute("aria-pressed");
          label.textContent = "Approval needed";
          result.textContent = "";
        }
      });
    }
    actions.append(approve, decline);
    panel.append(actions, result, hint);
    this.#flow().append(panel);
    this.approval = panel;
    return panel;
  }

  /** An unanswered question in this reply, if any. */
  get pendingApproval() {
    return this.approval && !this.approval.dataset.answered ? this.approval : null;
  }

  #flow() {
    if (!this.flow) {
      this.flow = el("div", "flow");
      this.text.before(this.flow);
    }
    return this.flow;
  }

  #newStep(id, name) {
    const step = el("details", "step");
    step.dataset.stepId = id;
    const summary = el("summary");
    const icon = el("span", "step-icon");
    icon.setAttribute("aria-hidden", "true"); // the status is said in words next to it
    summary.append(
      icon,
      el("span", "step-name", name),
      el("code", "step-preview"),
      el("span", "step-status"),
    );
    const body = el("div", "step-body");
    for (const [label, cls] of [
      ["Input", "step-input"],
      ["Output", "step-output"],
    ]) {
      const part = el("div", "step-part");
      part.append(el("span", "step-label", label), el("pre", cls));
      body.append(part);
    }
    step.append(summary, body);
    return step;
  }

  #setInput(step, input) {
    step.querySelector(".step-input").textContent = show(input, 2);
    step.querySelector(".step-preview").textContent = show(input);
  }

  #status(step, status) {
    step.dataset.status = status;
    step.querySelector(".step-status").textContent = STATUS_LABELS[status] ?? status;
  }
}

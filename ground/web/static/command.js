// The Command page: command authority (shown, taken and released explicitly), a form built
// from the dictionary, the typed confirmation of a hazardous command, and the two-person approval.
// The server judges everything: /api/check builds the command as every tool does (ranges, names)
// and words its confirmation (ground/hazard.py), and says whether the answer typed confirms it;
// the stream's command request is refused unless this browser holds command authority.

import {renderTimeline} from "./live.js";
import {$, api, el, message} from "./util.js";

let state = null;
let pending = null; // the words waiting for their typed confirmation
let checking = 0;

export function init(s) {
  state = s;
  const select = $("#command");
  for (const c of state.dictionary.commands) {
    select.append(el("option", {value: c.name}, c.name + (c.hazardous ? "  (hazardous)" : "")));
  }
  select.addEventListener("change", () => buildArgs());
  $("#command-form").addEventListener("input", () => check());
  $("#command-form").addEventListener("change", () => check());
  $("#command-form").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("#confirm-send").addEventListener("click", confirmed);
  $("#confirm-typed").addEventListener("keydown", (e) => { if (e.key === "Enter") confirmed(); });
  $("#confirm-cancel").addEventListener("click", () => cancel("cancelled"));
  $("#take").addEventListener("click", () => authority({type: "take", force: false}));
  $("#take-force").addEventListener("click", () => authority({type: "take", force: true}));
  $("#release").addEventListener("click", () => authority({type: "release"}));
  buildArgs();
}

export function show() {}

export function render(s, changed, visible) {
  if (changed.has("commands") || changed.has("welcome")) renderTimeline(s, $("#timeline-command"));
  if (!visible && !changed.has("status") && !changed.has("welcome")) return;
  const holder = s.holder();
  const mine = holder !== null && holder === s.me();
  $("#holder").textContent = !holder ? "nobody" : mine ? "this browser (" + holder + ")" : holder;
  $("#take").disabled = mine || !s.connected;
  $("#take-force").disabled = mine || !holder || !s.connected;
  $("#release").disabled = !mine;
  $("#token-row").hidden = !(s.welcome && s.welcome.token);
  $("#approvals-panel").hidden = !(s.welcome && s.welcome.two_person);
  if (changed.has("approvals") || changed.has("welcome") || changed.has("page")) renderApprovals();
  sendable();
}

function mineNow() {
  return state.connected && state.holder() !== null && state.holder() === state.me();
}

// Send is enabled by command authority alone: a check under way must not disable it between the
// mouse press (which ends the edit, so checks again) and the click.
function sendable() {
  const why = !state.connected ? "not connected to the ground server"
    : !mineNow() ? "command authority is held by " + (state.holder() || "nobody") + ": take it first" : "";
  $("#send").disabled = why !== "" || pending !== null;
  $("#send-why").textContent = why;
}

// --- the form, from the dictionary ------------------------------------------------------

function command(name) {
  return state.dictionary.commands.find((c) => c.name === name);
}

function buildArgs() {
  $("#args").replaceChildren(...argInputs(command($("#command").value)));
  $("#description").textContent = command($("#command").value).description;
  cancel("");
  check();
}

function argInputs(c) {
  return c.args.map((a) => {
    const id = "arg-" + a.name;
    if (a.kind === "command") {
      const nested = el("select", {id, "data-arg": a.name, "data-kind": "command"},
        ...state.dictionary.commands.filter((x) => !x.args.some((y) => y.kind === "command"))
          .map((x) => el("option", {value: x.name}, x.name + (x.hazardous ? "  (hazardous)" : ""))));
      const box = el("fieldset", {class: "nested"}, el("legend", {}, a.name + ": " + a.description), nested,
                     el("span", {class: "nested-args"}));
      const fill = () => {
        box.querySelector(".nested-args").replaceChildren(...argInputs(command(nested.value)));
        check();
      };
      nested.addEventListener("change", fill);
      queueMicrotask(fill);
      return box;
    }
    if (a.kind === "bits") {
      return el("span", {title: a.description, class: "bits"}, a.name + " ",
        ...a.names.map((n) => el("label", {}, el("input", {type: "checkbox", value: n, "data-bit": a.name}), n)),
        el("span", {class: "hint"}, " " + a.description));
    }
    if (a.kind === "enum") {
      return el("label", {title: a.description}, a.name + " ",
        el("select", {id, "data-arg": a.name}, ...a.names.map((n) => el("option", {value: n}, n))),
        el("span", {class: "hint", "data-hint": a.name}, ""));
    }
    return el("label", {title: a.description}, a.name + " ",
      el("input", {id, "data-arg": a.name, type: "number", min: a.lo, max: a.hi, step: 1, required: true,
                   value: a.lo === null ? "" : a.lo}),
      el("span", {class: "hint"}, " " + rangeText(a.lo, a.hi, a.unit)));
  });
}

function rangeText(lo, hi, unit) {
  return (lo === null ? "" : lo + ".." + hi) + (unit ? " " + unit : "");
}

// The command as typed, word by word: name, then each argument (a slot list as a list).
function words(root, name) {
  const out = [name];
  for (const a of command(name).args) {
    if (a.kind === "command") {
      const nested = root.querySelector("[data-arg='" + a.name + "']");
      out.push(...words(nested.closest("fieldset").querySelector(".nested-args"), nested.value));
    } else if (a.kind === "bits") {
      out.push([...root.querySelectorAll("[data-bit='" + a.name + "']:checked")].map((x) => x.value));
    } else {
      out.push(root.querySelector("[data-arg='" + a.name + "']").value);
    }
  }
  return out;
}

function parameterHints() { // PARAM_SET and the like: the range of the parameter chosen
  for (const hint of document.querySelectorAll("#args [data-hint]")) {
    const p = state.dictionary.parameters.find((x) => x.name === hint.previousSibling.value);
    hint.textContent = p ? " " + p.description + ": " + rangeText(p.lo, p.hi, p.unit) + ", default " + p.default : "";
  }
}

async function check() {
  parameterHints();
  const mine = ++checking;
  let answer;
  try {
    answer = await api("/api/check", {words: words($("#args"), $("#command").value)});
  } catch (e) {
    answer = {error: e.message};
  }
  if (mine !== checking) return; // the form changed meanwhile
  message($("#check"), answer.error || "will send: " + answer.command +
          (answer.confirmation ? "  (hazardous: " + answer.confirmation.text + ")" : ""), answer.error ? "error" : "");
}

// --- sending, with the typed confirmation -------------------------------------------------

// The form's words are checked again as they are sent (leaving a field may have changed them).
async function send() {
  const w = words($("#args"), $("#command").value);
  const answer = await api("/api/check", {words: w});
  if (answer.error || !mineNow()) {
    message($("#send-result"), answer.error || "command authority is not this browser's", "error");
    return;
  }
  if (!answer.confirmation) {
    submit(w, false);
    return;
  }
  pending = w;
  $("#confirm-text").textContent = "HAZARDOUS " + answer.confirmation.text + ".";
  $("#confirm-answer").textContent = answer.confirmation.answer;
  $("#confirm-typed").value = "";
  $("#confirm").hidden = false;
  $("#confirm-typed").focus();
  sendable();
}

async function confirmed() {
  if (pending === null) return;
  const w = pending;
  const answer = await api("/api/check", {words: w, typed: $("#confirm-typed").value});
  if (!answer.accepted) {
    cancel(w.join(" ") + " cancelled: the confirmation did not match");
    return;
  }
  cancel("");
  submit(w, true);
}

function cancel(text) {
  pending = null;
  $("#confirm").hidden = true;
  message($("#send-result"), text, text ? "error" : "");
  sendable();
}

async function submit(w, confirm) {
  try {
    const reply = await state.stream.request({type: "command", words: w, confirm});
    message($("#send-result"), reply.held ? "held: approval " + reply.held + " waits for a second operator"
      : "sent: command " + reply.ref + " (its stages below)", "ok");
  } catch (e) {
    message($("#send-result"), e.message, "error");
  }
}

// --- command authority and approvals --------------------------------------------------------

async function authority(request) {
  if (request.type === "take") request.token = $("#token").value || null;
  try {
    await state.stream.request(request);
    message($("#authority-message"), request.type === "release" ? "command authority released"
      : "command authority taken", "ok");
  } catch (e) {
    message($("#authority-message"), e.message, "error");
  }
}

function renderApprovals() {
  const list = $("#approvals");
  const waiting = [...state.approvals.values()];
  list.replaceChildren(...waiting.map((a) => {
    if (a.owner === state.me()) {
      return el("li", {"data-approval": a.approval}, "approval " + a.approval + ": " + a.text +
                ", waiting for a second operator");
    }
    const typed = el("input", {size: 10, autocomplete: "off", spellcheck: "false"});
    const go = el("button", {class: "danger", onclick: () => approve(a, typed.value)}, "Approve");
    return el("li", {"data-approval": a.approval, class: "confirm"},
              el("p", {}, "approval " + a.approval + " asked by " + a.owner + ": HAZARDOUS " + a.text + "."),
              el("label", {}, "type ", el("b", {}, a.answer), " to approve it: ", typed), " ", go);
  }));
}

async function approve(a, typed) {
  const answer = await api("/api/check", {answer: a.answer, typed});
  if (!answer.accepted) {
    message($("#approve-message"), "approval " + a.approval + " not given: the confirmation did not match", "error");
    return;
  }
  try {
    await state.stream.request({type: "approve", approval: a.approval, token: $("#token").value || null});
    message($("#approve-message"), "approval " + a.approval + " given: the server sends it now", "ok");
  } catch (e) {
    message($("#approve-message"), e.message, "error");
  }
}

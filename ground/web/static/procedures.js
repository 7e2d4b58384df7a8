// The Procedures page: fly a shipped procedure (the server flies it: ground/flight.py), follow
// its steps and verdicts as every client sees them, answer its go/no-go and typed
// confirmations, stop it; and read back the runs recorded in the archive. The runner judges
// every answer (a hazardous command's with ground/hazard.py, as the consoles' are).

import {$, api, clock, el, message} from "./util.js";

const VERDICTS = new Set(["OK", "FAIL", "NO-GO", "ABORT"]); // entries that judge the step of their line

let state = null;
let touch = null;

export function init(s, t) {
  state = s;
  touch = t;
  $("#proc-form").addEventListener("submit", (e) => { e.preventDefault(); fly(); });
  $("#proc-name").addEventListener("change", usage);
  $("#proc-answer-send").addEventListener("click", answer);
  $("#proc-answer").addEventListener("keydown", (e) => { if (e.key === "Enter") answer(); });
  $("#proc-stop").addEventListener("click", stop);
  list();
}

// A procedure message of the live stream: the flight's entries, whether a question waits.
export function news(s, msg) {
  if (!s.flight || s.flight.run !== msg.run) {
    s.flight = {run: msg.run, procedure: msg.procedure, owner: msg.owner, operator: msg.operator, entries: []};
  }
  s.flight.entries.push(msg);
  s.flight.asking = msg.asking;
  s.flight.hazardous = msg.hazardous;
}

export async function show() {
  let answer;
  try {
    answer = await api("/api/procedure-runs");
  } catch (e) {
    message($("#proc-runs-message"), e.message, "error");
    return;
  }
  $("#proc-runs tbody").replaceChildren(...answer.runs.slice().reverse().map((r) => el("tr", {"data-run": r.run},
    el("td", {}, r.run), el("td", {}, clock(r.t)), el("td", {}, r.procedure || "?"), el("td", {}, r.end),
    el("td", {}, el("button", {onclick: () => recorded(r.run)}, "entries")))));
}

export function render(s, changed) {
  if (!changed.has("flight") && !changed.has("status") && !changed.has("welcome")) return;
  const f = s.flight;
  const ended = f && f.entries.length > 0 && f.entries[f.entries.length - 1].kind === "END";
  const mine = f && s.me() !== null && f.operator === s.me().replace(/^#\d+ /, ""); // reloaded: still its run
  $("#proc-status").textContent = !f ? "none flown since this browser joined"
    : f.procedure + " for " + f.owner + ": " + (ended ? f.entries[f.entries.length - 1].text : "RUNNING");
  $("#proc-status").className = !f || !ended ? "" : f.entries[f.entries.length - 1].text.startsWith("PASSED")
    ? "badge ok" : "badge bad";
  $("#proc-stop").disabled = !f || ended || !mine;
  const asking = f && !ended && f.asking;
  $("#proc-question").hidden = !asking;
  if (asking) {
    $("#proc-prompt").textContent = f.asking + (mine ? "" : " (" + f.owner + " answers)");
    $("#proc-answer-send").disabled = !mine;
  }
  if (changed.has("flight")) steps(f);
}

function steps(f) {
  const rows = new Map();
  const entries = [];
  for (const e of f ? f.entries : []) {
    if (e.kind === "PLAN") {
      const verdict = el("td", {class: "verdict"});
      const row = el("tr", {}, el("td", {}, e.line === null ? "" : String(e.line)), el("td", {class: "step"}, e.text),
        verdict);
      if (e.line !== null) rows.set(e.line, {row, verdict});
      entries.push(row);
      continue;
    }
    const r = rows.get(e.line);
    if (r && e.kind === "STEP") {
      r.verdict.textContent = "running";
      r.verdict.className = "verdict running";
    } else if (r && VERDICTS.has(e.kind)) {
      r.verdict.textContent = e.kind + " " + e.text;
      r.verdict.className = "verdict " + (e.kind === "OK" ? "ok" : "bad");
    }
  }
  $("#proc-steps tbody").replaceChildren(...entries);
  $("#proc-entries").replaceChildren(...(f ? f.entries : []).map(line));
}

function line(e) {
  return el("li", {class: "entry " + e.kind}, clock(e.t) + " " + (e.line === null ? "" : e.line) + " " + e.kind +
    " " + e.text);
}

async function list() {
  let procedures;
  try {
    procedures = await api("/api/procedures");
  } catch (e) {
    message($("#proc-message"), e.message, "error");
    return;
  }
  $("#proc-name").replaceChildren(...procedures.map((p) => el("option", {value: p.name, "data-usage": p.usage,
    "data-mistakes": p.mistakes.join("\n")}, p.name + (p.mistakes.length ? "  (does not check)" : ""))));
  usage();
}

function usage() {
  const option = $("#proc-name").selectedOptions[0];
  if (!option) return;
  const mistakes = option.dataset.mistakes;
  message($("#proc-message"), mistakes ? "does not check:\n" + mistakes : "usage: " + option.dataset.usage,
    mistakes ? "error" : "");
}

// "SLOT=2 SPACING=10" as the console takes it: {SLOT: "2", SPACING: "10"}
function params(text) {
  const out = {};
  for (const word of text.split(/\s+/).filter((w) => w)) {
    const at = word.indexOf("=");
    if (at < 1) throw new Error("a param's value is NAME=VALUE, got " + word);
    out[word.slice(0, at)] = word.slice(at + 1);
  }
  return out;
}

async function fly() {
  try {
    const reply = await state.stream.request({type: "proc_start", procedure: $("#proc-name").value,
                                              params: params($("#proc-params").value)});
    message($("#proc-message"), reply.procedure + " flying: command authority is its until it ends", "ok");
  } catch (e) {
    message($("#proc-message"), e.message, "error");
  }
}

async function answer() {
  const typed = $("#proc-answer");
  try {
    await state.stream.request({type: "proc_answer", text: typed.value});
    typed.value = "";
  } catch (e) {
    message($("#proc-message"), e.message, "error");
  }
  touch("flight");
}

async function stop() {
  try {
    await state.stream.request({type: "proc_stop"});
    message($("#proc-message"), "stopping: the step waiting ends, then its on-abort steps make the payload safe", "ok");
  } catch (e) {
    message($("#proc-message"), e.message, "error");
  }
}

async function recorded(run) {
  try {
    const answer = await api("/api/procedure-runs?run=" + encodeURIComponent(run));
    $("#proc-recorded").replaceChildren(...answer.entries.map(line));
    message($("#proc-runs-message"), answer.procedure + " run " + run + ", from the archive");
  } catch (e) {
    message($("#proc-runs-message"), e.message, "error");
  }
}

// The Live page: controller state, arm window, the five inhibits, the four slots, housekeeping
// with limits, events by severity, and the verification timeline of every client's commands.
// Values are shown by the names the server rendered them with (rec.text): nothing is decoded here.

import {$, clock, el, requestId, setClass, setText} from "./util.js";

const SEVERITY_RANK = {INFO: 1, LOW: 2, MEDIUM: 3, HIGH: 4, MALFORMED: 4, GROUND: 1};
const ARMED_STATES = ["ARMED", "FIRING"]; // the software inhibit: deployment needs the controller armed

let failures = {};
let paintLog = null; // ?bench: [server receipt -> painted] latencies in s (tests/bench/web.py reads them)

export function init(state) {
  failures = state.dictionary.failures;
  if (new URLSearchParams(location.search).has("bench")) paintLog = window.paintLog = [];
  const body = $("#hk tbody");
  for (const f of state.dictionary.hk) {
    const limits = [f.lo, f.hi].map((x) => (x === null ? "" : x.toFixed(f.decimals))).join("..");
    body.append(el("tr", {"data-field": f.name, title: f.description}, el("td", {}, f.name),
                   el("td", {class: "value"}, "-"), el("td", {class: "muted"}, limits === ".." ? "" : limits +
                   (f.unit ? " " + f.unit : ""))));
  }
  $("#inhibits").append(el("span", {class: "muted"}, "inhibits (green: allows deployment)"),
    ...[...state.dictionary.inputs, "ARMED", "ARM_WINDOW"].map((name) => el("span", {class: "inhibit", id: "inhibit-" + name},
                                                                             name + " -")));
  const slots = $("#slots");
  for (let i = 1; i <= state.dictionary.slots; i++) {
    slots.append(el("div", {class: "slot", id: "slot" + i}, el("span", {class: "title"}, "SLOT " + i),
                    el("span", {class: "state"}, "-"), el("span", {class: "burns"}, "burns -")));
  }
  $("#severity").addEventListener("change", () => renderEvents(state));
}

export function show() {}

export function render(state, changed, visible) {
  if (changed.has("commands") || changed.has("welcome")) renderTimeline(state, $("#timeline"));
  if (!visible) return;
  if (changed.has("hk") || changed.has("page")) renderHk(state);
  if (changed.has("events") || changed.has("page")) renderEvents(state);
}

function renderHk(state) {
  const rec = state.hk;
  if (!rec) return;
  const text = rec.text;
  for (const row of document.querySelectorAll("#hk tbody tr")) {
    const name = row.dataset.field;
    setText(row.children[1], text[name]);
    setClass(row, rec.violations.includes(name) ? "limit" : "");
  }
  setText($("#state"), text.state);
  setText($("#arm-left"), text.arm_left);
  setText($("#obt"), rec.obt);
  const inputs = text.inputs.split(",");
  const inhibits = state.dictionary.inputs.map((name) => [name, inputs.includes(name)]);
  inhibits.push(["ARMED", ARMED_STATES.includes(text.state)], ["ARM_WINDOW", rec.values.arm_left > 0]);
  for (const [name, on] of inhibits) {
    const node = $("#inhibit-" + name);
    setText(node, name + " " + (on ? "on" : "off"));
    setClass(node, "inhibit " + (on ? "on" : "off"));
  }
  const burns = Object.fromEntries(text.attempts.split(",").map((x) => x.split(":")));
  for (let i = 1; i <= state.dictionary.slots; i++) {
    const slot = $("#slot" + i);
    setClass(slot, "slot " + text["slot" + i]);
    setText(slot.querySelector(".state"), text["slot" + i]);
    setText(slot.querySelector(".burns"), "burns " + burns[i]);
  }
  if (paintLog) { // render runs in an animation frame: a task queued now runs once that frame is painted
    const t = rec.ground_time;
    setTimeout(() => paintLog.push(Date.now() / 1000 - t), 0);
  }
}

function renderEvents(state) {
  const least = Number($("#severity").value);
  const shown = state.events.filter((e) => SEVERITY_RANK[e.severity] >= least).slice(-200).reverse();
  $("#events").replaceChildren(...shown.map((e) => el("li", {class: e.severity},
                                                      el("span", {class: "time"}, clock(e.t)), " ",
                                                      e.severity === "GROUND" ? "" : e.severity + " ", e.text)));
}

function stageText(s) {
  return s.name + (s.step !== null ? " step " + s.step : "") + (s.code ? " " + (failures[s.code] || "code " + s.code) : "");
}

// Every command the server told of, newest first: who sent it, each stage with its ground time.
export function renderTimeline(state, list) {
  const commands = [...state.commands.values()].reverse();
  list.replaceChildren(...commands.map((c) => {
    const held = c.held !== null && c.status === "PENDING";
    const sent = c.sent_at;
    const head = el("div", {class: "head"},
      el("span", {class: "time"}, sent ? clock(sent) : "--:--:--.---"), " ",
      el("span", {class: "what"}, c.tc.text), " ",
      el("span", {class: "rid muted"}, "[" + requestId(c.tc) + "]"), " ",
      el("span", {class: "owner"}, "by " + c.owner + (c.owner === state.me() ? " (this browser)" : "")),
      c.approver ? el("span", {class: "approver"}, ", approved by " + c.approver) : null, " ",
      el("span", {class: "status"}, held ? "HELD for approval " + c.held : c.status),
      c.reason ? el("span", {class: "reason"}, ": " + c.reason) : null,
      c.attempts > 1 ? el("span", {class: "muted"}, " (" + c.attempts + " attempts)") : null);
    const stages = el("ol", {class: "stages"}, ...c.stages.filter((s) => s).map((s) =>
      el("li", {class: "stage" + (s.code ? " failed" : ""), "data-stage": s.name},
         el("span", {class: "at"}, clock(s.t)), " ", stageText(s), " ",
         el("span", {class: "muted"}, sent ? "+" + (s.t - sent).toFixed(3) + " s" : ""))));
    return el("li", {class: "command " + c.status + (held ? " held" : ""), "data-ref": c.ref}, head, stages);
  }));
}

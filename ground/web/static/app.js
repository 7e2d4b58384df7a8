// The web console's entry: one state, filled by the live stream; each page renders from it.
// Rendering waits for the next animation frame, so a burst of telemetry paints once.

import * as archive from "./archive.js";
import * as command from "./command.js";
import * as live from "./live.js";
import * as plots from "./plots.js";
import * as procedures from "./procedures.js";
import {Stream} from "./stream.js";
import {$, api, setClass, setText} from "./util.js";

const PAGES = {live, command, plots, archive, procedures};
const STALE_MIN_S = 3; // housekeeping older than this (or than STALE_PERIODS report periods) is stale
const STALE_PERIODS = 3;
const COMMANDS_KEPT = 100;
const EVENTS_KEPT = 300;
const TICK_MS = 250; // the telemetry age is redrawn this often

export const state = {
  dictionary: null,
  stream: null,
  welcome: null, // who this browser is to the server (the welcome message)
  status: null, // link state and counters, who holds command authority, the clients
  connected: false,
  hk: null, // the latest housekeeping record, and when it arrived (performance.now(), ms)
  hkAt: 0,
  hkInterval: 1, // s between the last two reports
  events: [], // {key, t, severity, text}, oldest first
  commands: new Map(), // ref -> the command message, stages merged
  approvals: new Map(), // number -> the approval message, while WAITING
  flight: null, // the procedure the server flies (or flew last): its entries, the question waiting
  page: "live",
  me() { return this.welcome ? this.welcome.client : null; },
  holder() { return this.status ? this.status.authority : null; },
};

const changed = new Set();
let frame = 0;

function touch(...what) {
  for (const w of what) changed.add(w);
  if (!frame) frame = requestAnimationFrame(render);
}

function render() {
  frame = 0;
  header();
  for (const [name, page] of Object.entries(PAGES)) page.render(state, changed, name === state.page);
  changed.clear();
}

// --- the live stream into the state ---------------------------------------------------

function onMessage(msg) {
  switch (msg.type) {
    case "welcome": welcome(msg); break;
    case "status": state.status = msg; touch("status"); break;
    case "tm": telemetry(msg); break;
    case "command": commandNews(msg); break;
    case "approval":
      if (msg.state === "WAITING") state.approvals.set(msg.approval, msg);
      else state.approvals.delete(msg.approval);
      touch("approvals");
      break;
    case "procedure": procedures.news(state, msg); touch("flight"); break;
    case "notice": addEvent({key: null, t: Date.now() / 1000, severity: "GROUND", text: "GROUND " + msg.text}); break;
    case "error": addEvent({key: null, t: Date.now() / 1000, severity: "HIGH", text: "SERVER " + msg.message}); break;
  }
}

function welcome(msg) {
  const again = state.welcome && state.welcome.session === msg.session;
  state.welcome = msg;
  for (const [ref, c] of state.commands) {
    if (!again || c.status === "PENDING") state.commands.delete(ref); // the snapshot brings those in flight
  }
  state.approvals.clear();
  state.flight = null; // the snapshot brings the flight's entries again
  touch("welcome", "commands", "approvals", "flight");
}

function telemetry(msg) {
  const rec = msg.rec;
  if (rec.name === "HK" && !rec.error) {
    const now = performance.now();
    // the snapshot's report may be old: its age counts from the server's time stamp
    const at = state.connected ? now : now - Math.max(0, Date.now() / 1000 - msg.t) * 1000;
    if (state.hk && state.connected) state.hkInterval = Math.max((at - state.hkAt) / 1000, 0.001);
    state.hk = rec;
    state.hkAt = at;
    plots.addHk(state, msg.t, rec);
    touch("hk");
  }
  if (rec.event || rec.error) {
    const fields = Object.entries(rec.text).map(([k, v]) => k + "=" + v).join(" ");
    addEvent({key: msg.t + "/" + rec.seq, t: msg.t, severity: rec.error ? "MALFORMED" : rec.severity,
              text: [rec.obt, rec.event || rec.name, fields, rec.error ? "MALFORMED: " + rec.error : ""].join(" ")});
  }
}

function addEvent(e) {
  if (e.key !== null && state.events.some((x) => x.key === e.key)) return; // told again in a snapshot
  state.events.push(e);
  if (state.events.length > EVENTS_KEPT) state.events.shift();
  touch("events");
}

function commandNews(msg) {
  let c = state.commands.get(msg.ref);
  if (!c) {
    c = {stages: []};
    state.commands.set(msg.ref, c);
  }
  const stages = c.stages;
  Object.assign(c, msg, {stages});
  msg.stages.forEach((s, i) => { stages[msg.first + i] = s; });
  if (state.commands.size > COMMANDS_KEPT) {
    const ended = [...state.commands].find(([, x]) => x.status !== "PENDING");
    if (ended) state.commands.delete(ended[0]);
  }
  touch("commands");
}

function onConnected(up) {
  state.connected = up;
  touch("status");
}

// --- the header: link, telemetry age, authority; stale data greyed -------------------------

function staleness() {
  if (!state.connected) return "no connection to the ground server: reconnecting";
  if (!state.status || state.status.link !== "UP") return "link to the payload DOWN";
  if (!state.hk) return "no housekeeping received yet";
  const age = (performance.now() - state.hkAt) / 1000;
  const limit = Math.max(STALE_MIN_S, STALE_PERIODS * state.hkInterval);
  return age > limit ? "no housekeeping for " + age.toFixed(1) + " s" : null;
}

function header() {
  const s = state.status;
  const link = $("#link");
  setText(link, "LINK " + (state.connected && s ? s.link : "?"));
  setClass(link, "badge " + (state.connected && s && s.link === "UP" ? "ok" : "bad"));
  setText($("#age"), state.hk ? "HK " + ((performance.now() - state.hkAt) / 1000).toFixed(1) + " s ago"
    : "no housekeeping yet");
  const holder = state.holder();
  const authority = $("#authority");
  setText(authority, "AUTHORITY " + (!holder ? "nobody" : holder === state.me() ? "this browser" : holder));
  setClass(authority, "badge " + (!holder ? "" : holder === state.me() ? "mine" : "other"));
  if (s) {
    const c = s.counters;
    setText($("#counters"), "rx " + c.rx_packets + "  bad frames " + (c.crc_errors + c.oversize + c.undecodable) +
      "  TM gaps " + c.tm_gaps + "  reconnects " + c.reconnects + "  dropped " + s.dropped +
      (s.archive && s.archive.errors ? "  ARCHIVE FAILING: " + s.archive.last_error : ""));
  }
  const w = state.welcome;
  setText($("#whoami"), state.connected && w ? "you are " + w.client + " on " + w.link + " (server " + w.server + ")"
    : "connecting to the ground server...");
  const stale = staleness();
  document.body.classList.toggle("stale", stale !== null);
  const banner = $("#stale-banner");
  banner.hidden = stale === null;
  setText(banner, stale ? "STALE: " + stale + " (the values shown are the last received)" : "");
}

// --- pages ----------------------------------------------------------------------------

function showPage() {
  const page = location.hash.slice(1) in PAGES ? location.hash.slice(1) : "live";
  state.page = page;
  for (const name of Object.keys(PAGES)) $("#page-" + name).hidden = name !== page;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("current", a.dataset.page === page);
  PAGES[page].show(state);
  touch("page");
}

function operatorName() {
  const input = $("#operator");
  input.value = localStorage.getItem("operator") || "operator";
  input.addEventListener("change", () => {
    const name = input.value.trim() || "operator";
    localStorage.setItem("operator", name);
    state.stream.rename("web " + name);
  });
  return "web " + input.value;
}

async function main() {
  state.dictionary = await api("/api/dictionary");
  for (const page of Object.values(PAGES)) page.init(state, touch);
  state.stream = new Stream(operatorName(), onMessage, onConnected);
  window.addEventListener("hashchange", showPage);
  showPage();
  setInterval(header, TICK_MS);
}

main();

// The Plots page: housekeeping fields over ground time in engineering units, limits as dashed red
// lines, a state drawn over its names (as ground plot draws them); live (the last ten minutes,
// filled from the server's archive when the console opens) or an archived session (/api/hk).

import {$, api, clock, el, isoTime, message} from "./util.js";

const LIVE_WINDOW_S = 600;
const LIVE_STEP_S = 0.2; // one point per this at most: continuous HK is hundreds of reports a second
const REDRAW_MS = 500;
const HEIGHT = 150; // css px of one plot
const TICKS = 4; // value ticks on a plot, about
const MARGIN = {left: 70, right: 12, top: 22, bottom: 20};
const COLORS = {line: "#7fb2ff", limit: "#e05555", axis: "#8a95a3", grid: "#2c343f", text: "#d8dee6"};

let fields = {}; // name -> the dictionary's HK field
const live = {t: [], fields: {}};
let archived = null; // an archived session's series, while one is shown
let visible = false;
let dirty = false;

export function init(state) {
  for (const f of state.dictionary.hk.filter((x) => x.plottable)) {
    fields[f.name] = f;
    live.fields[f.name] = [];
  }
  const chosen = new Set(state.dictionary.plot_fields);
  $("#plot-fields").replaceChildren(...Object.keys(fields).map((name) => el("label", {},
    el("input", {type: "checkbox", value: name, checked: chosen.has(name), onchange: draw}), name)));
  $("#plot-source").addEventListener("change", source);
  setInterval(() => { if (visible && dirty && !archived) draw(); }, REDRAW_MS);
  const since = isoTime(Date.now() / 1000 - LIVE_WINDOW_S);
  api("/api/hk?session=current&since=" + encodeURIComponent(since)).then(prefill, () => {});
}

export async function show() {
  try {
    const {sessions, current} = await api("/api/sessions");
    const select = $("#plot-source");
    const value = select.value;
    select.replaceChildren(el("option", {value: "live"}, "live (last 10 minutes)"),
      ...sessions.slice().reverse().map((s) => el("option", {value: s.id}, "session " + s.id + ": " +
        isoTime(s.start) + (s.id === current ? " (this server's)" : ""))));
    select.value = value;
  } catch (e) {
    message($("#plot-message"), e.message, "error");
  }
  draw();
}

export function render(state, changed, isVisible) {
  visible = isVisible;
  if (visible && changed.has("page")) draw();
}

// Every report arrives here; a point is kept at most every LIVE_STEP_S.
export function addHk(state, t, rec) {
  const n = live.t.length;
  if (n && t - live.t[n - 1] < LIVE_STEP_S) return;
  live.t.push(t);
  for (const name of Object.keys(fields)) {
    live.fields[name].push(rec.text[name] === "INVALID" ? null : rec.values[name] * fields[name].factor);
  }
  while (live.t.length && live.t[0] < t - LIVE_WINDOW_S) {
    live.t.shift();
    for (const name of Object.keys(fields)) live.fields[name].shift();
  }
  dirty = true;
}

function prefill(series) { // the archive's reports from before this page opened
  const first = live.t.length ? live.t[0] : Infinity;
  const keep = series.t.filter((t) => t < first).length;
  live.t.unshift(...series.t.slice(0, keep));
  for (const name of Object.keys(fields)) live.fields[name].unshift(...series.fields[name].slice(0, keep));
  dirty = true;
}

async function source() {
  const value = $("#plot-source").value;
  archived = null;
  message($("#plot-message"), "");
  if (value !== "live") {
    try {
      archived = await api("/api/hk?session=" + value);
      message($("#plot-message"), archived.t.length + " housekeeping reports of session " + value +
              (archived.t.length ? ", " + isoTime(archived.t[0]) + " to " + isoTime(archived.t.at(-1)) : ""));
    } catch (e) {
      message($("#plot-message"), e.message, "error");
    }
  }
  draw();
}

function draw() {
  dirty = false;
  const series = archived || live;
  const chosen = [...document.querySelectorAll("#plot-fields input:checked")].map((x) => x.value);
  const now = Date.now() / 1000;
  const span = archived ? [series.t[0], series.t.at(-1)] : [Math.max(now - LIVE_WINDOW_S, series.t[0] ?? now) - 1, now];
  const box = $("#plots");
  while (box.children.length > chosen.length) box.lastChild.remove();
  while (box.children.length < chosen.length) box.append(el("canvas", {height: HEIGHT}));
  chosen.forEach((name, i) => plot(box.children[i], fields[name], series.t, series.fields[name], span));
}

function plot(canvas, f, ts, values, [t0, t1]) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 800;
  canvas.width = width * ratio;
  canvas.height = HEIGHT * ratio;
  canvas.dataset.field = f.name;
  canvas.dataset.points = ts.length;
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, HEIGHT);
  g.font = "12px system-ui, sans-serif";
  const [lo, hi, ticks] = yRange(f, values);
  canvas.dataset.ticks = ticks.map(([, label]) => label).join(" ");
  const x = (t) => MARGIN.left + (t - t0) / Math.max(t1 - t0, 1e-9) * (width - MARGIN.left - MARGIN.right);
  const y = (v) => HEIGHT - MARGIN.bottom - (v - lo) / (hi - lo) * (HEIGHT - MARGIN.top - MARGIN.bottom);
  axes(g, width, t0, t1, ticks, x, y);
  const off = [];
  for (const [which, limit] of [["lo", f.lo], ["hi", f.hi]]) {
    if (limit === null) continue;
    if (limit < lo || limit > hi) {
      off.push(which + " " + limit + (f.unit ? " " + f.unit : "") + (limit > hi ? " above" : " below"));
      continue;
    }
    g.strokeStyle = COLORS.limit;
    g.setLineDash([6, 4]);
    g.beginPath();
    g.moveTo(MARGIN.left, y(limit));
    g.lineTo(width - MARGIN.right, y(limit));
    g.stroke();
    g.setLineDash([]);
  }
  g.strokeStyle = COLORS.line;
  g.lineWidth = 1.5;
  g.beginPath();
  let drawing = false;
  for (let i = 0; i < ts.length; i++) { // steps: a value holds until the next report
    if (values[i] === null || ts[i] < t0) { drawing = false; continue; }
    const next = i + 1 < ts.length ? Math.min(ts[i + 1], t1) : ts[i];
    if (!drawing) g.moveTo(x(ts[i]), y(values[i]));
    g.lineTo(x(ts[i]), y(values[i]));
    g.lineTo(x(next), y(values[i]));
    drawing = true;
  }
  g.stroke();
  g.lineWidth = 1;
  g.fillStyle = COLORS.text;
  g.fillText(f.name + (f.unit ? " (" + f.unit + ")" : "") + (off.length ? "   limits beyond the chart: " +
             off.join(", ") : ""), MARGIN.left, 14);
}

// (lo, hi, ticks as [value, label]): the data's range, widened to a limit that is near it or that the
// data cross (a value out of limits shows with its limit); a state's names.
function yRange(f, values) {
  if (f.names) {
    const numbers = f.names.map(([v]) => v);
    return [Math.min(...numbers) - 0.5, Math.max(...numbers) + 0.5, f.names];
  }
  const data = values.filter((v) => v !== null);
  let lo = data.length ? Math.min(...data) : 0;
  let hi = data.length ? Math.max(...data) : 1;
  const span = Math.max(hi - lo, Math.abs(hi) * 0.1, 1);
  const crossed = [f.lo !== null && lo < f.lo, f.hi !== null && hi > f.hi];
  for (const [i, limit] of [f.lo, f.hi].entries()) {
    if (limit !== null && (crossed[i] || (limit >= lo - span && limit <= hi + span))) {
      lo = Math.min(lo, limit);
      hi = Math.max(hi, limit);
    }
  }
  const pad = Math.max(hi - lo, 1) * 0.08;
  return [lo - pad, hi + pad, valueTicks(lo - pad, hi + pad, f.decimals)];
}

// About TICKS steps over lo..hi, each 1, 2 or 5 times a power of ten and no finer than the field's
// decimals (a count's are whole numbers): 0, 10000, 20000 B; never 2048, 11595 B.
function valueTicks(lo, hi, decimals) {
  const raw = (hi - lo) / TICKS;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max([1, 2, 5, 10].map((m) => m * power).find((x) => x >= raw), 10 ** -decimals);
  const out = [];
  for (let i = Math.ceil(lo / step); i * step <= hi; i++) out.push([i * step, (i * step).toFixed(decimals)]);
  return out;
}

function axes(g, width, t0, t1, ticks, x, y) {
  g.strokeStyle = COLORS.grid;
  g.fillStyle = COLORS.axis;
  g.textAlign = "right";
  for (const [v, label] of ticks) {
    g.beginPath();
    g.moveTo(MARGIN.left, y(v));
    g.lineTo(width - MARGIN.right, y(v));
    g.stroke();
    g.fillText(label, MARGIN.left - 6, y(v) + 4);
  }
  g.textAlign = "center";
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (t1 - t0) * i / 4;
    g.fillText(clock(t).slice(0, 8), Math.min(Math.max(x(t), MARGIN.left + 25), width - 30), HEIGHT - 5);
  }
  g.textAlign = "left";
}

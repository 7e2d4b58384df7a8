// The Archive page: the sessions of the server's archive, its rows filtered by session, time,
// type (as ground replay --type) and command, and the same selection exported as CSV or JSON Lines.

import {$, api, el, isoTime, message} from "./util.js";

export function init(state) {
  $("#archive-command").append(...state.dictionary.commands.map((c) => el("option", {value: c.name}, c.name)));
  $("#archive-form").addEventListener("submit", (e) => { e.preventDefault(); rows(); });
  $("#archive-form").addEventListener("input", exports);
  $("#archive-form").addEventListener("change", exports);
  exports();
}

export async function show() {
  let answer;
  try {
    answer = await api("/api/sessions");
  } catch (e) {
    message($("#archive-message"), e.message, "error");
    return;
  }
  const select = $("#archive-session");
  const value = select.value;
  select.replaceChildren(el("option", {value: ""}, "any"),
    ...answer.sessions.map((s) => el("option", {value: s.id}, String(s.id))));
  select.value = value;
  $("#sessions tbody").replaceChildren(...answer.sessions.slice().reverse().map((s) => el("tr", {"data-session": s.id},
    el("td", {}, s.id + (s.id === answer.current ? " (this server's)" : "")), el("td", {}, isoTime(s.start)),
    el("td", {}, s.end ? isoTime(s.end) : s.id === answer.current ? "running" : "cut short"),
    el("td", {}, s.link), el("td", {}, s.version),
    el("td", {}, el("button", {onclick: () => { select.value = s.id; exports(); rows(); }}, "rows")))));
}

export function render() {}

function query(format) {
  const q = new URLSearchParams({format});
  for (const [key, id] of [["session", "#archive-session"], ["since", "#archive-since"], ["until", "#archive-until"],
                           ["type", "#archive-type"], ["command", "#archive-command"]]) {
    const value = $(id).value.trim();
    if (value) q.set(key, value);
  }
  return "/api/rows?" + q;
}

function exports() {
  $("#export-csv").href = query("csv");
  $("#export-jsonl").href = query("jsonl");
}

async function rows() {
  let answer;
  try {
    answer = await api(query("json"));
  } catch (e) {
    message($("#archive-message"), e.message, "error");
    return;
  }
  message($("#archive-message"), answer.total + " rows" + (answer.total > answer.rows.length
    ? " (the first " + answer.rows.length + " shown; the exports have them all)" : ""));
  $("#rows tbody").replaceChildren(...answer.rows.map((r) => el("tr", {class: r.type},
    el("td", {class: "time"}, r.time), el("td", {}, r.type), el("td", {}, r.text),
    el("td", {}, (r.client || "") + (r.approver ? ", approved by " + r.approver : "")))));
}

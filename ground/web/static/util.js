// Small helpers shared by the pages: DOM building, ground times, the server's JSON API.

export const $ = (selector, root = document) => root.querySelector(selector);

// el("td", {class: "value"}, "text", child...): an element; attributes starting "on" are listeners.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// A ground time (s since the Unix epoch) as the console shows it, UTC: 10:00:01.234
export function clock(t) {
  return new Date(t * 1000).toISOString().slice(11, 23);
}

// ... and in full: 2026-06-13T10:00:01.234Z
export function isoTime(t) {
  return t === null || t === undefined ? "-" : new Date(t * 1000).toISOString();
}

// Text and class set only when they change: a page painted for every telemetry frame lays out
// only what moved.
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

export function setClass(node, name) {
  if (node.className !== name) node.className = name;
}

export function message(node, text, kind = "") {
  node.textContent = text;
  node.className = "message " + kind;
}

// GET (no body) or POST (a JSON body) to the server; the JSON answer, or an Error with the server's words.
export async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, options);
  if (!response.ok) throw new Error((await response.text()).trim() || response.statusText);
  return response.json();
}

// A command's request id (the first four bytes of its packet), as every tool shows it.
export function requestId(tc) {
  return "0x" + tc.packet.slice(0, 8).toUpperCase();
}

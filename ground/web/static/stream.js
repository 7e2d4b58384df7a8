// The live stream: the ground server's client protocol v1 (docs/GROUND.md) over a WebSocket.
// Each WebSocket message holds one or more protocol lines. The stream says hello with the
// operator's name, hands every message to onMessage, answers request() with its reply, and
// reconnects with a backoff when the server goes away (as ground.client does).

const PROTOCOL = 1;
const BACKOFF_FIRST = 0.5; // s
const BACKOFF_MAX = 5;

export class Stream {
  constructor(name, onMessage, onConnected) {
    this.name = name;
    this.onMessage = onMessage;
    this.onConnected = onConnected; // (true once the snapshot is in, false when the connection drops)
    this.ws = null;
    this.ids = 1;
    this.waiting = new Map(); // request id -> {resolve, reject}
    this.backoff = BACKOFF_FIRST;
    this.connect();
  }

  connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({type: "hello", protocol: PROTOCOL, name: this.name}));
    ws.onmessage = (event) => {
      for (const line of event.data.split("\n")) {
        if (line) this.dispatch(JSON.parse(line));
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return; // replaced by rename()
      this.ws = null;
      this.dropWaiting();
      this.onConnected(false);
      setTimeout(() => this.connect(), this.backoff * 1000);
      this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX);
    };
  }

  dispatch(msg) {
    if (msg.type === "ready") {
      this.backoff = BACKOFF_FIRST;
      this.onConnected(true);
    }
    this.onMessage(msg);
    if (msg.type === "reply" && this.waiting.has(msg.id)) {
      const {resolve, reject} = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (msg.ok) resolve(msg);
      else reject(new Error(msg.error));
    }
  }

  dropWaiting() {
    for (const {reject} of this.waiting.values()) reject(new Error("lost the connection to the ground server"));
    this.waiting.clear();
  }

  // A request ({type: "take", ...}): a promise of its reply; rejected with the server's words.
  request(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new Error("not connected to the ground server"));
    }
    const id = this.ids++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, {resolve, reject});
      this.ws.send(JSON.stringify({...msg, id}));
    });
  }

  // Join again under another name (the server names a client once, when it says hello).
  rename(name) {
    this.name = name;
    const old = this.ws;
    this.ws = null;
    if (old) old.close();
    this.dropWaiting();
    this.onConnected(false);
    this.connect();
  }
}

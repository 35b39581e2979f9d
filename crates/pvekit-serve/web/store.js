// The live inventory: clusters, nodes and guests, filled by the server's event stream
// (`/api/v1/events/ws`), with REST polling as a fallback when the WebSocket cannot open.
// Views subscribe with `store.on(fn)`; `fn(change)` runs synchronously after each message,
// so the time of one live update (message to painted table model) can be measured here.

import { getJSON, keptAlive, wsURL } from "./api.js";
import { guestKey } from "./util.js";

export const store = {
  guests: new Map(), // "cluster/type/vmid" -> GuestRow (+ _hay, the search text)
  nodes: new Map(), // "cluster/node" -> NodeRow
  clusters: new Map(), // name -> summary (+ _at, when received, performance.now())
  connected: false,
  version: 0,
  listeners: new Set(),
  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  },
};

/** Figures of the page's own work, read by the browser tests. */
export const metrics = { updates: [] };
window.pvekitMetrics = metrics;

function hay(g) {
  return [g.name, g.vmid, g.node, g.cluster, g.status, g.type, ...(g.ips || []), ...(g.tags || [])]
    .join(" ")
    .toLowerCase();
}

function putGuest(g) {
  g._hay = hay(g);
  store.guests.set(guestKey(g), g);
}

function putSummary(s) {
  if (s && s.name) {
    s._at = performance.now();
    store.clusters.set(s.name, s);
  }
}

function emit(change) {
  store.version++;
  for (const fn of store.listeners) {
    try {
      fn(change);
    } catch (e) {
      console.error("view update failed", e);
    }
  }
}

/** Applies one event message; returns the number of guests it carried. */
export function apply(msg) {
  const c = msg.cluster;
  if (msg.type === "listed") {
    for (const [k, g] of store.guests) if (g.cluster === c) store.guests.delete(k);
    for (const [k, n] of store.nodes) if (n.cluster === c) store.nodes.delete(k);
  }
  if (msg.type === "listed" || msg.type === "update") {
    for (const g of msg.guests || []) {
      g.cluster ??= c;
      putGuest(g);
    }
    for (const r of msg.removed || []) store.guests.delete(`${c}/${r.type}/${r.vmid}`);
    for (const n of msg.nodes || []) {
      n.cluster ??= c;
      store.nodes.set(`${n.cluster}/${n.name}`, n);
    }
  }
  if (msg.type === "stale" && msg.summary) msg.summary.stale ??= msg.error || "the latest poll failed";
  putSummary(msg.summary);
  return (msg.guests || []).length;
}

function onMessage(text) {
  const t0 = performance.now();
  if (text === "pong") return;
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return;
  }
  const n = apply(msg);
  emit({ type: msg.type, cluster: msg.cluster, guests: n });
  // Include the layout the change causes in the figure.
  void document.body.offsetHeight;
  const ms = performance.now() - t0;
  if (msg.type === "update" || msg.type === "listed") {
    metrics.updates.push({ type: msg.type, guests: n, total: store.guests.size, ms, at: t0 });
    if (metrics.updates.length > 200) metrics.updates.shift();
  }
}

let ws = null;
let retry = 500;
let polling = null;

export function connect() {
  if (ws) return;
  ws = keptAlive(new WebSocket(wsURL("/api/v1/events/ws")));
  ws.addEventListener("open", () => {
    retry = 500;
    store.connected = true;
    stopPolling();
    emit({ type: "connection" });
  });
  ws.addEventListener("message", (e) => onMessage(e.data));
  ws.addEventListener("close", () => {
    const wasOpen = store.connected;
    ws = null;
    store.connected = false;
    emit({ type: "connection" });
    if (!wasOpen) startPolling();
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  });
}

/** The fallback: the REST lists every 5 s while the event stream is down. */
async function pollOnce() {
  try {
    const [clusters, nodes, guests] = await Promise.all([
      getJSON("/api/v1/clusters"),
      getJSON("/api/v1/nodes"),
      getJSON("/api/v1/guests"),
    ]);
    for (const s of clusters) {
      apply({
        type: "listed",
        cluster: s.name,
        summary: s,
        guests: guests.filter((g) => g.cluster === s.name),
        nodes: nodes.filter((n) => n.cluster === s.name),
      });
    }
    emit({ type: "listed" });
  } catch {
    /* the next round tries again */
  }
}

function startPolling() {
  if (polling) return;
  pollOnce();
  polling = setInterval(pollOnce, 5000);
}

function stopPolling() {
  if (polling) clearInterval(polling);
  polling = null;
}

/** The age of a cluster's inventory now, in seconds. */
export function ageOf(summary) {
  if (!summary || summary.age_seconds === null || summary.age_seconds === undefined) return null;
  return summary.age_seconds + (performance.now() - summary._at) / 1000;
}

// Logs: the journal of a node or a container (units selectable) and tailed files,
// streamed over the GoDoxy WebSocket routes (one text message per line), with follow and
// pause and a line limit. Lines are cleaned (control sequences shown as control pictures)
// and shown with textContent only.

import { atLeast, keptAlive, wsURL } from "./api.js";
import { store } from "./store.js";
import { cleanLine, h, setText } from "./util.js";

const NODE_UNITS = ["pveproxy.service", "pvedaemon.service", "pvestatd.service", "cron.service", "ssh.service", "systemd-logind.service"];

export function mount(root, ctx) {
  const p = ctx.route.params;
  if (!atLeast(ctx.role, "operator")) {
    root.append(h("h1", null, "Logs"), h("p", { class: "muted" }, "Journals and tails need the operator role."));
    return {};
  }
  const kind = h(
    "select",
    { id: "log-kind" },
    h("option", { value: "journal" }, "Journal"),
    h("option", { value: "tail" }, "File (tail)"),
  );
  kind.value = p.get("file") ? "tail" : "journal";
  const node = h("select", { id: "log-node" });
  const vmid = h("select", { id: "log-vmid" });
  const units = h("input", { id: "log-units", type: "text", list: "log-unit-list", placeholder: "all units", value: p.get("unit") || "", spellcheck: "false" });
  const unitList = h("datalist", { id: "log-unit-list" }, NODE_UNITS.map((u) => h("option", { value: u })));
  const file = h("input", { id: "log-file", type: "text", value: p.get("file") || "/var/log/syslog", spellcheck: "false" });
  const limit = h("input", { id: "log-limit", type: "number", min: "1", max: "1000", value: p.get("limit") || "500" });
  const startBtn = h("button", { type: "submit", class: "primary", id: "log-start" }, "Show");
  const pauseBtn = h("button", { type: "button", id: "log-pause", "aria-pressed": "false", disabled: true }, "Pause");
  const follow = h("input", { type: "checkbox", id: "log-follow", checked: true });
  const clearBtn = h("button", { type: "button", id: "log-clear" }, "Clear");
  const status = h("span", { class: "muted", role: "status", id: "log-status" }, "Not streaming.");
  const out = h("div", { class: "log", id: "log-lines", role: "log", "aria-label": "Log lines", tabindex: "0" });

  const unitsField = h("label", { class: "field" }, "Units (comma separated) ", units, unitList);
  const fileField = h("label", { class: "field" }, "File ", file);
  const form = h(
    "form",
    { class: "log-form", "aria-label": "Log source" },
    h("label", { class: "field" }, "Source ", kind),
    h("label", { class: "field" }, "Node ", node),
    h("label", { class: "field" }, "Container ", vmid),
    unitsField,
    fileField,
    h("label", { class: "field narrow" }, "Line limit ", limit),
    startBtn,
  );
  root.append(
    h("h1", null, "Logs"),
    form,
    h("div", { class: "log-bar" }, pauseBtn, h("label", null, follow, " Follow"), clearBtn, status),
    out,
  );

  // A node is `CLUSTER/NAME`: the same name may exist in several clusters.
  const nodeName = () => node.value.slice(node.value.lastIndexOf("/") + 1);
  const nodeCluster = () => node.value.slice(0, Math.max(0, node.value.lastIndexOf("/")));
  function fillNodes() {
    const all = [...store.nodes.values()].sort((a, b) => a.name.localeCompare(b.name) || a.cluster.localeCompare(b.cluster));
    const clusters = new Set(all.map((n) => n.cluster));
    const keyOf = (n) => `${n.cluster}/${n.name}`;
    const linked = p.get("node") && all.find((n) => n.name === p.get("node") && (!p.get("cluster") || n.cluster === p.get("cluster")));
    // A link's node before the inventory has it: kept as given.
    const asLinked = p.get("node") ? `${p.get("cluster") || ""}/${p.get("node")}` : "";
    const want = node.value || (linked ? keyOf(linked) : asLinked) || (all[0] ? keyOf(all[0]) : "");
    const options = all.map((n) => h("option", { value: keyOf(n) }, clusters.size > 1 ? `${n.name} (${n.cluster})` : n.name));
    if (want && !all.some((n) => keyOf(n) === want)) options.unshift(h("option", { value: want }, want));
    node.replaceChildren(...options);
    node.value = want;
    fillGuests();
  }
  function fillGuests() {
    const want = vmid.value || p.get("vmid") || "";
    const cts = [...store.guests.values()].filter((g) => g.type === "lxc" && g.node === nodeName() && g.cluster === nodeCluster() && !g.template).sort((a, b) => a.vmid - b.vmid);
    vmid.replaceChildren(
      h("option", { value: "" }, kind.value === "journal" ? "— the node itself —" : "— the node itself —"),
      ...cts.map((g) => h("option", { value: String(g.vmid) }, `${g.vmid} ${g.name || ""} (${g.status})`)),
    );
    if (want && !cts.some((g) => String(g.vmid) === want)) vmid.append(h("option", { value: want }, want));
    vmid.value = want;
  }
  function fields() {
    unitsField.hidden = kind.value !== "journal";
    fileField.hidden = kind.value !== "tail";
  }
  node.addEventListener("change", () => {
    vmid.value = "";
    fillGuests();
  });
  kind.addEventListener("change", fields);
  fields();
  fillNodes();
  let filled = store.nodes.size > 0;
  const off = store.on(() => {
    if (!filled && store.nodes.size > 0) {
      filled = true;
      fillNodes();
    }
  });

  let ws = null;
  let paused = false;
  let held = [];
  let count = 0;
  let max = 500;

  function addLines(lines) {
    const frag = document.createDocumentFragment();
    for (const l of lines) frag.append(h("div", { class: "line" }, cleanLine(l)));
    out.append(frag);
    let extra = out.childElementCount - max;
    while (extra-- > 0) out.firstElementChild.remove();
    if (follow.checked) out.scrollTop = out.scrollHeight;
  }

  function stop() {
    if (ws) {
      ws.onclose = null;
      ws.close();
      ws = null;
    }
    pauseBtn.disabled = true;
    setText(startBtn, "Show");
  }

  function start() {
    stop();
    max = Math.min(1000, Math.max(1, Number(limit.value) || 500));
    out.replaceChildren();
    held = [];
    count = 0;
    let path;
    const q = new URLSearchParams();
    q.set("limit", String(max));
    if (kind.value === "journal") {
      path = `/api/v1/proxmox/journalctl/${encodeURIComponent(nodeName())}${vmid.value ? `/${encodeURIComponent(vmid.value)}` : ""}`;
      for (const u of units.value.split(",").map((s) => s.trim()).filter(Boolean)) q.append("service", u);
    } else {
      path = "/api/v1/proxmox/tail";
      q.set("node", nodeName());
      if (vmid.value) q.set("vmid", vmid.value);
      q.set("file", file.value);
    }
    // pvekit's own addition to GoDoxy's routes: the cluster, for node names several share.
    if (nodeCluster()) q.set("cluster", nodeCluster());
    const what = kind.value === "journal" ? `journal of ${vmid.value ? `CT ${vmid.value}` : nodeName()}` : `${file.value} on ${vmid.value ? `CT ${vmid.value}` : nodeName()}`;
    setText(status, `Connecting to the ${what}…`);
    const sock = keptAlive(new WebSocket(wsURL(`${path}?${q}`)));
    ws = sock;
    setText(startBtn, "Restart");
    pauseBtn.disabled = false;
    sock.onopen = () => setText(status, `Streaming the ${what}.`);
    sock.onmessage = (e) => {
      if (e.data === "pong" || typeof e.data !== "string") return;
      const lines = e.data.replace(/\n$/, "").split("\n");
      count += lines.length;
      out.dataset.count = String(count);
      if (paused) {
        held.push(...lines);
        if (held.length > max) held.splice(0, held.length - max);
        setText(status, `Paused: ${held.length} new lines held.`);
      } else addLines(lines);
    };
    sock.onclose = (e) => {
      if (ws !== sock) return;
      ws = null;
      pauseBtn.disabled = true;
      setText(startBtn, "Show");
      setText(status, `Stream ended${e.code && e.code !== 1000 ? ` (${e.code}${e.reason ? `: ${e.reason}` : ""})` : ""}.`);
    };
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    start();
  });
  pauseBtn.addEventListener("click", () => {
    paused = !paused;
    pauseBtn.setAttribute("aria-pressed", String(paused));
    setText(pauseBtn, paused ? "Resume" : "Pause");
    if (!paused) {
      addLines(held);
      held = [];
      if (ws) setText(status, "Streaming.");
    } else setText(status, "Paused.");
  });
  clearBtn.addEventListener("click", () => out.replaceChildren());
  follow.addEventListener("change", () => {
    if (follow.checked) out.scrollTop = out.scrollHeight;
  });

  if (p.get("node") && p.get("start") === "1") start();
  return {
    unmount() {
      off();
      stop();
    },
  };
}

// Overview: every cluster (version, quorum, nodes, guests by state, inventory age) and every
// node with CPU, memory and root-disk gauges and its guests by state. Live from the store.

import { ageOf, store } from "./store.js";
import { ago, bytes, duration, gauge, h, pct, setText } from "./util.js";

function countByState(guests) {
  const c = { running: 0, stopped: 0, paused: 0, other: 0, templates: 0 };
  for (const g of guests) {
    if (g.template) c.templates++;
    else if (g.status in c) c[g.status]++;
    else c.other++;
  }
  return c;
}

function states(c) {
  const parts = [
    h("span", { class: "st running" }, `${c.running} running`),
    h("span", { class: "st stopped" }, `${c.stopped} stopped`),
  ];
  if (c.paused) parts.push(h("span", { class: "st paused" }, `${c.paused} paused`));
  if (c.other) parts.push(h("span", { class: "st other" }, `${c.other} other`));
  if (c.templates) parts.push(h("span", { class: "st template" }, `${c.templates} template${c.templates === 1 ? "" : "s"}`));
  return h("p", { class: "states" }, parts);
}

export function mount(root) {
  const wrap = h("div", { class: "overview" }, h("h1", { class: "sr-only" }, "Overview"));
  root.append(wrap);

  function render() {
    const byCluster = new Map();
    for (const g of store.guests.values()) {
      if (!byCluster.has(g.cluster)) byCluster.set(g.cluster, []);
      byCluster.get(g.cluster).push(g);
    }
    const sections = [];
    if (store.clusters.size === 0) sections.push(h("p", { class: "muted" }, "Waiting for the first inventory…"));
    for (const [name, s] of store.clusters) {
      const guests = byCluster.get(name) || [];
      const nodes = [...store.nodes.values()].filter((n) => n.cluster === name).sort((a, b) => a.name.localeCompare(b.name));
      const age = ageOf(s);
      const facts = h(
        "dl",
        { class: "facts" },
        h("dt", null, "Version"),
        h("dd", null, s.version || "–"),
        h("dt", null, "Quorum"),
        h("dd", null, s.quorate === null || s.quorate === undefined ? "not clustered" : s.quorate ? "quorate" : "NOT quorate"),
        h("dt", null, "Nodes online"),
        h("dd", null, `${s.nodes_online} / ${s.nodes}`),
        h("dt", null, "Guests"),
        h("dd", null, `${s.running} running of ${s.guests}`),
        h("dt", null, "Inventory"),
        h("dd", { class: s.stale ? "bad" : "", "data-age": "" }, s.stale ? `stale, last good poll ${ago(age)}` : `polled ${ago(age)}`),
      );
      const cards = nodes.map((n) => {
        const cpu = gauge("CPU");
        cpu.set(n.cpu, `${pct(n.cpu)} of ${n.maxcpu || "?"} CPUs`);
        const mem = gauge("Memory");
        mem.set(n.maxmem ? n.mem / n.maxmem : 0, `${bytes(n.mem)} / ${bytes(n.maxmem)}`);
        const disk = gauge("Root disk");
        disk.set(n.maxdisk ? n.disk / n.maxdisk : 0, `${bytes(n.disk)} / ${bytes(n.maxdisk)}`);
        const own = guests.filter((g) => g.node === n.name);
        return h(
          "article",
          { class: `card node${n.online ? "" : " offline"}`, "aria-label": `Node ${n.name}` },
          h(
            "header",
            null,
            h("h3", null, n.name),
            h("span", { class: `badge ${n.online ? "running" : "stopped"}` }, n.online ? "online" : "offline"),
            h("span", { class: "muted small" }, n.online ? `up ${duration(n.uptime)}` : ""),
          ),
          cpu.el,
          mem.el,
          disk.el,
          states(countByState(own)),
          h(
            "p",
            { class: "links" },
            h("a", { href: `#/guests?q=${encodeURIComponent(n.name)}` }, "Guests"),
            h("a", { href: `#/logs?cluster=${encodeURIComponent(n.cluster)}&node=${encodeURIComponent(n.name)}` }, "Journal"),
            h("a", { href: `#/terminal?cluster=${encodeURIComponent(name)}&node=${encodeURIComponent(n.name)}` }, "Shell"),
          ),
        );
      });
      sections.push(
        h(
          "section",
          { class: `cluster${s.stale ? " stale" : ""}`, "aria-label": `Cluster ${name}` },
          h("header", { class: "cluster-head" }, h("h2", null, name), states(countByState(guests))),
          facts,
          h("div", { class: "cards" }, cards),
        ),
      );
    }
    wrap.replaceChildren(wrap.firstChild, ...sections);
  }

  // Redraw on changes, at most every 250 ms (overview gauges need no per-message speed).
  let pending = null;
  const off = store.on(() => {
    if (!pending) pending = setTimeout(() => ((pending = null), render()), 250);
  });
  const tick = setInterval(() => {
    for (const [name, s] of store.clusters) {
      const el = wrap.querySelector(`section[aria-label="Cluster ${CSS.escape(name)}"] [data-age]`);
      if (el) setText(el, s.stale ? `stale, last good poll ${ago(ageOf(s))}` : `polled ${ago(ageOf(s))}`);
    }
  }, 1000);
  render();
  return {
    unmount() {
      off();
      clearInterval(tick);
      clearTimeout(pending);
    },
  };
}

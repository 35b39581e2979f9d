// One guest: its live figures, the power actions its state allows (each followed to its
// end: progress lines, then OK or the task's own error text), its IPs and config summary,
// and charts of CPU, memory, network and disk over the last hour or day (uPlot, loaded
// only here).

import { ApiError, atLeast, getJSON, post } from "./api.js";
import { store } from "./store.js";
import { bytes, duration, gauge, h, pct, rate, setText } from "./util.js";

const ACTIONS = {
  lxc: ["start", "shutdown", "stop", "reboot", "suspend", "resume"],
  qemu: ["start", "shutdown", "stop", "reboot", "suspend", "resume"],
};
const LABELS = { start: "Start", shutdown: "Shut down", stop: "Stop", reboot: "Reboot", suspend: "Suspend", resume: "Resume" };

let uplot = null;
async function loadUPlot() {
  if (!uplot) {
    if (!document.querySelector('link[href$="uPlot.min.css"]')) {
      document.head.append(h("link", { rel: "stylesheet", href: "/assets/vendor/uplot/uPlot.min.css" }));
    }
    uplot = (await import("./vendor/uplot/uPlot.esm.js")).default;
  }
  return uplot;
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function mount(root, ctx) {
  const [, cluster, type, vmidText] = ctx.route.path;
  const vmid = Number(vmidText);
  const key = `${cluster}/${type}/${vmid}`;
  const base = `/api/v1/guests/${encodeURIComponent(cluster)}/${encodeURIComponent(type)}/${vmid}`;
  const canAct = atLeast(ctx.role, "operator");
  let detail = null;
  let alive = true;
  const sources = new Set();

  const title = h("h1", null, `${type === "lxc" ? "CT" : "VM"} ${vmid}`);
  const status = h("span", { class: "badge", id: "guest-status" });
  const where = h("span", { class: "muted" });
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const actionsBox = h("div", { class: "actions", role: "group", "aria-label": "Power actions" });
  const moreBox = h("div", { class: "actions" });
  const more = h(
    "details",
    { class: "more-actions" },
    h("summary", null, "Other actions"),
    h("p", { class: "muted small" }, "The guest's state does not allow these now; Proxmox VE will say why if you try."),
    moreBox,
  );
  const task = h("section", { class: "task", "aria-label": "Task", "aria-live": "polite", hidden: true });
  const cpu = gauge("CPU");
  const mem = gauge("Memory");
  const disk = gauge("Disk");
  const figures = h("dl", { class: "facts" });
  const ips = h("ul", { class: "ips", "aria-label": "IP addresses" });
  const config = h("table", { class: "config", "aria-label": "Configuration" });
  const links = h("p", { class: "links" });
  const timeframe = h(
    "div",
    { class: "segmented", role: "radiogroup", "aria-label": "Chart time frame" },
    ...["hour", "day"].map((t) =>
      h("label", null, h("input", { type: "radio", name: "timeframe", value: t, checked: t === "hour" ? true : null }), ` Last ${t}`),
    ),
  );
  const charts = h("div", { class: "charts" });

  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/guests" }, "← Guests")),
    h("header", { class: "guest-head" }, title, status, where),
    error,
    h(
      "div",
      { class: "guest-grid" },
      h(
        "section",
        { class: "panel", "aria-label": "Summary" },
        h("h2", null, "Summary"),
        cpu.el,
        mem.el,
        disk.el,
        figures,
        h("h3", null, "IP addresses"),
        ips,
        links,
      ),
      h(
        "section",
        { class: "panel", "aria-label": "Actions" },
        h("h2", null, "Power"),
        canAct ? null : h("p", { class: "muted" }, "Power actions need the operator role."),
        actionsBox,
        canAct ? more : null,
        task,
      ),
      h("section", { class: "panel config-panel", "aria-label": "Config" }, h("h2", null, "Config"), config),
    ),
    h("section", { class: "panel", "aria-label": "History" }, h("div", { class: "panel-head" }, h("h2", null, "History"), timeframe), charts),
  );

  function renderRow(g) {
    if (!g) return;
    setText(title, `${g.name || (type === "lxc" ? "CT" : "VM")} (${g.vmid})`);
    document.title = `${g.name || g.vmid} – pvekit`;
    const st = g.template ? "template" : g.lock ? `${g.status} (${g.lock})` : g.status;
    setText(status, st);
    status.className = `badge ${g.template ? "template" : g.status}`;
    setText(where, `${type === "lxc" ? "container" : "virtual machine"} on ${g.node}, cluster ${g.cluster}`);
    const running = g.status === "running";
    cpu.set(running ? g.cpu : 0, running ? `${pct(g.cpu)} of ${g.maxcpu} CPUs` : "–");
    mem.set(running && g.maxmem ? g.mem / g.maxmem : 0, running ? `${bytes(g.mem)} / ${bytes(g.maxmem)}` : `– / ${bytes(g.maxmem)}`);
    disk.set(g.maxdisk ? g.disk / g.maxdisk : 0, `${bytes(g.disk)} / ${bytes(g.maxdisk)}`);
    const pairs = [
      ["Uptime", running ? duration(g.uptime) : "–"],
      ["Network in / out", `${bytes(g.netin)} / ${bytes(g.netout)}`],
      ["Disk read / write", `${bytes(g.diskread)} / ${bytes(g.diskwrite)}`],
      ["Tags", (g.tags || []).join(", ") || "–"],
    ];
    figures.replaceChildren(...pairs.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
    const list = g.ips || [];
    ips.replaceChildren(...(list.length ? list.map((ip) => h("li", null, ip)) : [h("li", { class: "muted" }, "none known")]));
  }

  function renderActions() {
    const allowed = new Set(detail ? detail.actions : []);
    const all = ACTIONS[type] || [];
    const button = (a) =>
      h("button", { type: "button", class: a === "start" ? "primary" : a === "stop" ? "danger" : "", "data-action": a, disabled: !canAct || null, onclick: () => act(a) }, LABELS[a] || a);
    actionsBox.replaceChildren(...all.filter((a) => allowed.has(a)).map(button));
    if (allowed.size === 0) actionsBox.append(h("p", { class: "muted" }, detail && detail.guest.template ? "A template does not run." : "No action is allowed now."));
    const others = all.filter((a) => !allowed.has(a));
    moreBox.replaceChildren(...others.map(button));
    more.hidden = others.length === 0;
  }

  function renderConfig() {
    const entries = Object.entries((detail && detail.config) || {}).sort(([a], [b]) => a.localeCompare(b));
    config.replaceChildren(
      h("tbody", null, entries.map(([k, v]) => h("tr", null, h("th", { scope: "row" }, k), h("td", null, typeof v === "string" ? v : JSON.stringify(v))))),
    );
  }

  function renderLinks(g) {
    const parts = [];
    if (type === "lxc") parts.push(h("a", { href: `#/logs?cluster=${encodeURIComponent(g.cluster)}&node=${encodeURIComponent(g.node)}&vmid=${vmid}` }, "Journal"));
    if (type === "lxc" && atLeast(ctx.role, "admin")) parts.push(h("a", { href: `#/terminal?cluster=${encodeURIComponent(cluster)}&vmid=${vmid}` }, "Shell"));
    links.replaceChildren(...parts);
  }

  async function load() {
    try {
      detail = await getJSON(base);
      if (!alive) return;
      error.hidden = true;
      renderRow(store.guests.get(key) || detail.guest);
      renderActions();
      renderConfig();
      renderLinks(detail.guest);
    } catch (e) {
      error.hidden = false;
      setText(error, e instanceof ApiError && e.status === 404 ? `No guest ${key}: ${e.message}` : `Could not load the guest: ${e.message}`);
    }
  }

  async function act(action) {
    for (const b of root.querySelectorAll("button[data-action]")) b.disabled = true;
    task.hidden = false;
    const progress = h("progress", { "aria-label": `${LABELS[action]} progress` });
    const state = h("p", { class: "task-state", id: "task-state" }, `${LABELS[action]}: sending…`);
    const log = h("pre", { class: "task-log", "aria-label": "Task log" });
    task.replaceChildren(h("h3", null, `${LABELS[action]} ${vmid}`), progress, state, log);
    task.dataset.state = "running";
    const finish = (ok, text) => {
      progress.max = 1;
      progress.value = 1;
      task.dataset.state = ok ? "ok" : "failed";
      state.className = `task-state ${ok ? "ok" : "bad"}`;
      state.setAttribute("role", ok ? "status" : "alert");
      setText(state, ok ? `${LABELS[action]}: done (${text})` : `${LABELS[action]} failed: ${text}`);
      load();
    };
    let started;
    try {
      started = await post(`${base}/${action}`);
    } catch (e) {
      finish(false, e.message);
      return;
    }
    setText(state, `${LABELS[action]}: running (task ${started.upid})`);
    const es = new EventSource(started.events);
    sources.add(es);
    es.addEventListener("progress", (e) => {
      const d = JSON.parse(e.data);
      if (d.lines && d.lines.length) log.append(d.lines.join("\n") + "\n");
      log.scrollTop = log.scrollHeight;
    });
    es.addEventListener("done", (e) => {
      es.close();
      sources.delete(es);
      const d = JSON.parse(e.data);
      finish(d.ok, d.exitstatus);
    });
    es.addEventListener("error", () => {
      if (es.readyState === EventSource.CLOSED && task.dataset.state === "running") {
        sources.delete(es);
        finish(false, "the task's event stream closed before its end");
      }
    });
  }

  // Charts.
  let plots = [];
  let frame = "hour";
  async function loadCharts() {
    let data;
    try {
      data = await getJSON(`${base}/rrd?timeframe=${frame}&cf=AVERAGE`);
    } catch (e) {
      charts.replaceChildren(h("p", { class: "error" }, `No history: ${e.message}`));
      return;
    }
    const U = await loadUPlot();
    if (!alive) return;
    const t = data.map((d) => d.time);
    const col = (f) => data.map((d) => (d[f] === undefined || d[f] === null ? null : d[f]));
    const axisStroke = cssVar("--muted");
    const grid = cssVar("--grid");
    const a1 = cssVar("--chart-1");
    const a2 = cssVar("--chart-2");
    const axis = (fmt) => ({ stroke: axisStroke, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values: fmt ? (u, v) => v.map(fmt) : undefined, size: 70 });
    const spec = [
      { title: "CPU", series: [{ label: "CPU", data: col("cpu").map((v) => (v === null ? null : v * 100)), stroke: a1, fmt: (v) => `${v.toFixed(0)} %`, show: (v) => `${v.toFixed(1)} %` }] },
      {
        title: "Memory",
        series: [
          { label: "Used", data: col("mem"), stroke: a1, fmt: bytes, show: bytes },
          { label: "Total", data: col("maxmem"), stroke: a2, fmt: bytes, show: bytes, dash: [4, 4] },
        ],
      },
      {
        title: "Network",
        series: [
          { label: "In", data: col("netin"), stroke: a1, fmt: rate, show: rate },
          { label: "Out", data: col("netout"), stroke: a2, fmt: rate, show: rate },
        ],
      },
      {
        title: "Disk",
        series: [
          { label: "Read", data: col("diskread"), stroke: a1, fmt: rate, show: rate },
          { label: "Write", data: col("diskwrite"), stroke: a2, fmt: rate, show: rate },
        ],
      },
    ];
    for (const p of plots) p.destroy();
    plots = [];
    charts.replaceChildren();
    for (const c of spec) {
      const box = h("figure", { class: "chart", "aria-label": `${c.title}, last ${frame}` });
      charts.append(box);
      const width = Math.max(240, box.clientWidth);
      const fmt = c.series[0].fmt;
      const opts = {
        title: c.title,
        width,
        height: 180,
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [{ stroke: axisStroke, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } }, axis((v) => (v === null ? "" : fmt(v)))],
        series: [
          {},
          ...c.series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5, dash: s.dash, fill: s.dash ? undefined : `${s.stroke}22`, value: (u, v) => (v === null || v === undefined ? "–" : s.show(v)), spanGaps: false })),
        ],
      };
      plots.push(new U(opts, [t, ...c.series.map((s) => s.data)], box));
      if (c.series.every((s) => s.data.every((v) => v === null))) {
        box.append(h("figcaption", { class: "muted small" }, `No ${c.title.toLowerCase()} samples in the last ${frame}.`));
      }
    }
  }
  timeframe.addEventListener("change", (e) => {
    frame = e.target.value;
    loadCharts();
  });
  const resize = new ResizeObserver(() => {
    for (const p of plots) {
      const width = Math.max(240, p.root.parentNode.clientWidth);
      if (Math.abs(p.width - width) > 4) p.setSize({ width, height: 180 });
    }
  });
  resize.observe(charts);
  const onTheme = () => loadCharts();
  window.addEventListener("pvekit-theme", onTheme);

  let lastStatus = null;
  const off = store.on(() => {
    const g = store.guests.get(key);
    if (!g) return;
    renderRow(g);
    const s = `${g.status}/${g.lock}`;
    if (lastStatus !== null && s !== lastStatus && task.dataset.state !== "running") load();
    lastStatus = s;
  });
  const refreshCharts = setInterval(loadCharts, 60000);
  renderRow(store.guests.get(key));
  load().then(loadCharts);
  return {
    unmount() {
      alive = false;
      off();
      clearInterval(refreshCharts);
      resize.disconnect();
      window.removeEventListener("pvekit-theme", onTheme);
      for (const es of sources) es.close();
      for (const p of plots) p.destroy();
    },
  };
}

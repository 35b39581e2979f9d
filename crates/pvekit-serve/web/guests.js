// Guests: one table of every guest of every cluster, live from the event stream. Sorted by
// any column, filtered by a search box (every word must match the name, VMID, an IP, the
// node, a tag, the cluster, the status or the type). Only the rows in view (plus a margin)
// are in the DOM, each reused while its guest stays in view and changed cell by cell, so a
// live update costs the same at 10 or 10,000 guests.

import { store } from "./store.js";
import { bytes, duration, guestHref, guestKey, h, pct, setText } from "./util.js";

const ROW = 34; // px, fixed (see .guests tbody tr in app.css)
const MARGIN = 12; // rows drawn above and below the visible ones

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const COLUMNS = [
  { id: "vmid", label: "VMID", num: true, key: (g) => g.vmid },
  { id: "name", label: "Name", key: (g) => (g.name || "").toLowerCase() },
  { id: "node", label: "Node", key: (g) => `${g.cluster}/${g.node}` },
  { id: "type", label: "Type", key: (g) => g.type },
  { id: "status", label: "Status", key: (g) => (g.template ? "~template" : g.status) },
  { id: "cpu", label: "CPU", num: true, key: (g) => g.cpu || 0 },
  { id: "mem", label: "Memory", num: true, key: (g) => g.mem || 0 },
  { id: "net", label: "Net in / out", num: true, key: (g) => (g.netin || 0) + (g.netout || 0) },
  { id: "disk", label: "Disk read / write", num: true, key: (g) => (g.diskread || 0) + (g.diskwrite || 0) },
  { id: "ips", label: "IPs", key: (g) => (g.ips || [])[0] || "~" },
  { id: "uptime", label: "Uptime", num: true, key: (g) => (g.status === "running" ? g.uptime || 0 : -1) },
];

/** The text of each cell of a guest (the same order as COLUMNS). */
function cells(g) {
  const running = g.status === "running";
  return [
    String(g.vmid),
    g.name || "",
    g.node,
    g.type === "lxc" ? "CT" : "VM",
    g.template ? "template" : g.lock ? `${g.status} (${g.lock})` : g.status,
    running ? pct(g.cpu) : "–",
    running ? `${bytes(g.mem)} / ${bytes(g.maxmem)}` : `– / ${bytes(g.maxmem)}`,
    `${bytes(g.netin)} / ${bytes(g.netout)}`,
    `${bytes(g.diskread)} / ${bytes(g.diskwrite)}`,
    (g.ips || []).join(", "),
    running ? duration(g.uptime) : "–",
  ];
}

function makeRow() {
  const tds = COLUMNS.map((c) => h("td", { class: `c-${c.id}${c.num ? " num" : ""}` }));
  const link = h("a");
  const tags = h("span", { class: "tags" });
  tds[1].append(link, tags);
  const status = h("span", { class: "badge" });
  tds[4].append(status);
  return { tr: h("tr", null, tds), tds, link, tags, status, texts: [], key: null, statusClass: "" };
}

function fillRow(row, g) {
  const t = cells(g);
  for (let i = 0; i < t.length; i++) {
    if (row.texts[i] === t[i]) continue;
    row.texts[i] = t[i];
    if (i === 1) setText(row.link, t[i] || `(${g.vmid})`);
    else if (i === 4) setText(row.status, t[i]);
    else {
      row.tds[i].textContent = t[i];
      if (i === 9) row.tds[i].title = t[i];
    }
  }
  const key = guestKey(g);
  if (row.key !== key) {
    row.key = key;
    row.tr.dataset.key = key;
    row.link.href = guestHref(g);
  }
  const tagText = (g.tags || []).join(" ");
  if (row.tagText !== tagText) {
    row.tagText = tagText;
    row.tags.replaceChildren(...(g.tags || []).map((t) => h("span", { class: "tag" }, t)));
  }
  const sc = `badge ${g.template ? "template" : g.status}`;
  if (row.statusClass !== sc) {
    row.statusClass = sc;
    row.status.className = sc;
  }
}

export function mount(root, ctx) {
  const params = ctx.route.params;
  let sort = { id: params.get("sort") || "vmid", dir: params.get("dir") === "desc" ? -1 : 1 };
  let query = params.get("q") || "";

  const search = h("input", {
    type: "search",
    id: "guest-search",
    placeholder: "name, VMID, IP, node, tag…",
    value: query,
    autocomplete: "off",
    spellcheck: "false",
  });
  const count = h("span", { class: "muted", role: "status", id: "guest-count" });
  const heads = COLUMNS.map((c) => {
    const b = h("button", { type: "button", class: "sort", "data-col": c.id }, c.label);
    b.addEventListener("click", () => {
      sort = sort.id === c.id ? { id: c.id, dir: -sort.dir } : { id: c.id, dir: c.num ? -1 : 1 };
      order = null;
      keepURL();
      render();
    });
    return h("th", { scope: "col", class: `c-${c.id}${c.num ? " num" : ""}` }, b);
  });
  const tbody = h("tbody");
  const top = h("tr", { class: "spacer", "aria-hidden": "true" }, h("td", { colspan: COLUMNS.length }));
  const bottom = h("tr", { class: "spacer", "aria-hidden": "true" }, h("td", { colspan: COLUMNS.length }));
  const table = h("table", { class: "guests", "aria-label": "Guests", "aria-rowcount": "0" }, h("thead", null, h("tr", null, heads)), tbody);
  const scroller = h("div", { class: "table-scroll", tabindex: "0", "aria-label": "Guest table (scrolls)" }, table);
  root.append(
    h(
      "div",
      { class: "toolbar" },
      h("h1", null, "Guests"),
      h("label", { for: "guest-search", class: "search" }, "Search ", search),
      count,
    ),
    scroller,
  );

  let order = null; // the filtered, sorted guests
  let rows = new Map(); // key -> row in the DOM now
  const spare = [];

  function keepURL() {
    const p = new URLSearchParams();
    if (query) p.set("q", query);
    if (sort.id !== "vmid") p.set("sort", sort.id);
    if (sort.dir < 0) p.set("dir", "desc");
    const hash = `#/guests${p.toString() ? `?${p}` : ""}`;
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  function computeOrder() {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const col = COLUMNS.find((c) => c.id === sort.id) || COLUMNS[0];
    const list = [];
    for (const g of store.guests.values()) {
      if (words.every((w) => g._hay.includes(w))) list.push(g);
    }
    const dir = sort.dir;
    list.sort((a, b) => dir * cmp(col.key(a), col.key(b)) || cmp(a.cluster, b.cluster) || a.vmid - b.vmid);
    order = list;
  }

  function render() {
    if (!order) computeOrder();
    for (const th of heads) {
      const id = th.firstChild.dataset.col;
      if (id === sort.id) th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
    setText(count, `${order.length} of ${store.guests.size} guests`);
    table.setAttribute("aria-rowcount", String(order.length + 1));
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW) - MARGIN);
    const visible = Math.ceil((scroller.clientHeight || 800) / ROW) + 2 * MARGIN;
    const last = Math.min(order.length, first + visible);
    const next = new Map();
    const trs = [];
    for (let i = first; i < last; i++) {
      const g = order[i];
      const key = guestKey(g);
      let row = rows.get(key);
      if (row) rows.delete(key);
      else row = spare.pop() || makeRow();
      fillRow(row, g);
      row.tr.setAttribute("aria-rowindex", String(i + 2));
      next.set(key, row);
      trs.push(row.tr);
    }
    for (const row of rows.values()) spare.push(row);
    rows = next;
    top.firstChild.style.height = `${first * ROW}px`;
    bottom.firstChild.style.height = `${(order.length - last) * ROW}px`;
    // Move rows only when the sequence changed.
    const now = tbody.children;
    let same = now.length === trs.length + 2;
    for (let i = 0; same && i < trs.length; i++) same = now[i + 1] === trs[i];
    if (!same) tbody.replaceChildren(top, ...trs, bottom);
  }

  search.addEventListener("input", () => {
    query = search.value.trim();
    order = null;
    scroller.scrollTop = 0;
    keepURL();
    render();
  });
  let scrollPending = false;
  scroller.addEventListener("scroll", () => {
    if (scrollPending) return;
    scrollPending = true;
    requestAnimationFrame(() => {
      scrollPending = false;
      render();
    });
  });
  const off = store.on((change) => {
    if (change.type === "connection") return;
    order = null;
    render();
  });
  const resize = new ResizeObserver(() => render());
  resize.observe(scroller);
  render();
  search.focus();
  return {
    unmount() {
      off();
      resize.disconnect();
    },
  };
}

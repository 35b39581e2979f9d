// Terminal: a node's shell or a container's shell (admin) in xterm.js, over the serve
// API's WebSocket: binary frames both ways, a text {"resize": {cols, rows}} frame when the
// terminal's size changes, and a final text {"exit": code} from the server.

import { atLeast, wsURL } from "./api.js";
import { store } from "./store.js";
import { h, setText } from "./util.js";

let lib = null;
async function loadXterm() {
  if (!lib) {
    if (!document.querySelector('link[href$="xterm.css"]')) {
      document.head.append(h("link", { rel: "stylesheet", href: "/assets/vendor/xterm/xterm.css" }));
    }
    const [x, f] = await Promise.all([import("./vendor/xterm/xterm.mjs"), import("./vendor/xterm/addon-fit.mjs")]);
    lib = { Terminal: x.Terminal, FitAddon: f.FitAddon };
  }
  return lib;
}

/** xterm.js writes its generated rules (row sizes, colours) into <style> elements, which a
 * Content-Security-Policy without 'unsafe-inline' styles does not apply. This mirrors each
 * of them inside `root` into a constructable stylesheet, which the policy allows. */
function mirrorStyles(root) {
  const sheets = new Map();
  const sync = (el) => {
    let sheet = sheets.get(el);
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheets.set(el, sheet);
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    }
    sheet.replaceSync(el.textContent || "");
  };
  const obs = new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) {
        if (n.nodeName === "STYLE") sync(n);
        else if (n.querySelectorAll) n.querySelectorAll("style").forEach(sync);
      }
      const t = r.target.nodeName === "STYLE" ? r.target : r.target.parentNode;
      if (t && t.nodeName === "STYLE") sync(t);
    }
  });
  obs.observe(root, { childList: true, subtree: true, characterData: true });
  return () => {
    obs.disconnect();
    const mine = new Set(sheets.values());
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => !mine.has(s));
  };
}

function themeColors() {
  const css = getComputedStyle(document.documentElement);
  return {
    background: css.getPropertyValue("--term-bg").trim(),
    foreground: css.getPropertyValue("--term-fg").trim(),
    cursor: css.getPropertyValue("--accent").trim(),
    selectionBackground: "#5a7bb566",
  };
}

export function mount(root, ctx) {
  const p = ctx.route.params;
  root.append(h("h1", null, "Terminal"));
  if (!atLeast(ctx.role, "admin")) {
    root.append(h("p", { class: "muted" }, "Shells are root on the node: they need the admin role."));
    return {};
  }
  const target = h("select", { id: "term-target" });
  const connectBtn = h("button", { type: "submit", class: "primary", id: "term-connect" }, "Connect");
  const status = h("span", { class: "muted", role: "status", id: "term-status" }, "Not connected.");
  const screen = h("div", { class: "term", id: "term-screen" });
  const form = h("form", { class: "term-form", "aria-label": "Shell target" }, h("label", { class: "field" }, "Shell ", target), connectBtn, status);
  root.append(form, screen);

  const wanted = p.get("vmid") ? `ct:${p.get("cluster") || ""}:${p.get("vmid")}` : p.get("node") ? `node:${p.get("cluster") || ""}:${p.get("node")}` : "";
  function fillTargets() {
    const keep = target.value || wanted;
    const opts = [];
    for (const n of [...store.nodes.values()].sort((a, b) => a.cluster.localeCompare(b.cluster) || a.name.localeCompare(b.name))) {
      opts.push(h("option", { value: `node:${n.cluster}:${n.name}` }, `Node ${n.name} (${n.cluster})`));
    }
    for (const g of [...store.guests.values()].filter((g) => g.type === "lxc" && !g.template).sort((a, b) => a.vmid - b.vmid)) {
      opts.push(h("option", { value: `ct:${g.cluster}:${g.vmid}` }, `Container ${g.vmid} ${g.name || ""} (${g.status})`));
    }
    if (keep && !opts.some((o) => o.value === keep)) opts.unshift(h("option", { value: keep }, keep.replace(/:/g, " ")));
    target.replaceChildren(...opts);
    if (keep) target.value = keep;
  }
  fillTargets();
  let filled = store.nodes.size > 0;
  const off = store.on(() => {
    if (!filled && store.nodes.size > 0) {
      filled = true;
      fillTargets();
    }
  });

  let term = null;
  let fit = null;
  let ws = null;
  let unmirror = null;
  const resize = new ResizeObserver(() => {
    if (fit && term) fit.fit();
  });
  resize.observe(screen);

  function close() {
    if (ws) {
      ws.onclose = null;
      ws.close();
      ws = null;
    }
  }

  async function connect() {
    close();
    const [kind, cluster, id] = target.value.split(":");
    if (!id) return;
    const { Terminal, FitAddon } = await loadXterm();
    if (!term) {
      unmirror = mirrorStyles(screen);
      term = new Terminal({
        fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
        fontSize: 14,
        cursorBlink: true,
        scrollback: 5000,
        theme: themeColors(),
      });
      fit = new FitAddon();
      term.loadAddon(fit);
      term.open(screen);
      fit.fit();
      const enc = new TextEncoder();
      term.onData((d) => {
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d));
      });
      term.onResize(({ cols, rows }) => {
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ resize: { cols, rows } }));
      });
    } else {
      term.reset();
    }
    const path =
      kind === "node"
        ? `/api/v1/nodes/${encodeURIComponent(cluster)}/${encodeURIComponent(id)}/shell`
        : `/api/v1/guests/${encodeURIComponent(cluster)}/lxc/${encodeURIComponent(id)}/shell`;
    const sock = new WebSocket(wsURL(`${path}?cols=${term.cols}&rows=${term.rows}`));
    sock.binaryType = "arraybuffer";
    ws = sock;
    const label = kind === "node" ? `node ${id}` : `container ${id}`;
    setText(status, `Connecting to ${label}…`);
    screen.dataset.state = "connecting";
    sock.onopen = () => {
      setText(status, `Connected to ${label}.`);
      screen.dataset.state = "open";
      term.focus();
    };
    let exit = null;
    sock.onmessage = (e) => {
      if (typeof e.data === "string") {
        try {
          const m = JSON.parse(e.data);
          if ("exit" in m) exit = m.exit;
        } catch {
          /* ignore */
        }
        return;
      }
      term.write(new Uint8Array(e.data));
    };
    sock.onclose = (e) => {
      if (ws !== sock) return;
      ws = null;
      screen.dataset.state = "closed";
      const why = exit !== null ? `exit ${exit}` : e.reason || `code ${e.code}`;
      setText(status, `Session with ${label} ended (${why}).`);
      term.write(`\r\n\x1b[2m[session ended: ${why}]\x1b[0m\r\n`);
    };
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    connect();
  });
  const onTheme = () => {
    if (term) term.options.theme = themeColors();
  };
  window.addEventListener("pvekit-theme", onTheme);
  if (wanted) connect();
  return {
    unmount() {
      off();
      close();
      resize.disconnect();
      window.removeEventListener("pvekit-theme", onTheme);
      if (term) term.dispose();
      if (unmirror) unmirror();
    },
  };
}

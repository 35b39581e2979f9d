// Small helpers shared by the views: a DOM builder (text only: data never goes through
// innerHTML), number formats, and log-line cleaning.

/** Builds an element: `h("a", {href: "#/x", class: "y"}, "text", child)`. Strings become
 * text nodes; attributes starting with "on" are listeners; `null`/`false` are skipped. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k in el && typeof v !== "string") el[k] = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Sets an element's text only when it changed (cheap live updates). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
export function bytes(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  let i = 0;
  let v = Math.abs(n);
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const s = i === 0 ? String(Math.round(v)) : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
  return `${n < 0 ? "-" : ""}${s} ${UNITS[i]}`;
}

export function rate(n) {
  return n === null || n === undefined || !Number.isFinite(n) ? "–" : `${bytes(n)}/s`;
}

export function pct(fraction, digits = 1) {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return "–";
  return `${(fraction * 100).toFixed(digits)} %`;
}

export function duration(seconds) {
  if (!seconds || !Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  if (d > 0) return `${d}d ${hh}h`;
  if (hh > 0) return `${hh}h ${mm}m`;
  if (mm > 0) return `${mm}m ${ss}s`;
  return `${ss}s`;
}

/** "42 s ago", "3 min 5 s ago". */
export function ago(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "never";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s ago`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
}

/** A log line made safe to show as text: colour sequences (CSI ... m) dropped, every other
 * control character shown as its Unicode control picture (ESC as ␛), so an OSC or a cursor
 * move is visible and inert. The result goes into textContent only. */
export function cleanLine(line) {
  // eslint-disable-next-line no-control-regex
  return line.replace(/\x1b\[[0-9;]*m/g, "").replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) =>
    c === "\x7f" ? "\u2421" : String.fromCharCode(0x2400 + c.charCodeAt(0)),
  );
}

/** The hash route: "#/guests?q=web" -> {path: ["guests"], params}. */
export function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [p, q] = raw.split("?", 2);
  return { path: p ? p.split("/").map(decodeURIComponent) : [], params: new URLSearchParams(q || "") };
}

export function guestKey(g) {
  return `${g.cluster}/${g.type}/${g.vmid}`;
}

export function guestHref(g) {
  return `#/guest/${encodeURIComponent(g.cluster)}/${g.type}/${g.vmid}`;
}

/** A gauge: a labelled meter with a bar and its text. Returns {el, set(fraction, text)}. */
export function gauge(label) {
  const fill = h("span", { class: "gauge-fill" });
  const value = h("span", { class: "gauge-value" });
  const el = h(
    "div",
    { class: "gauge", role: "meter", "aria-label": label, "aria-valuemin": "0", "aria-valuemax": "100" },
    h("span", { class: "gauge-label" }, label),
    h("span", { class: "gauge-bar" }, fill),
    value,
  );
  return {
    el,
    set(fraction, text) {
      const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
      fill.style.width = `${(f * 100).toFixed(1)}%`;
      fill.className = `gauge-fill${f >= 0.9 ? " crit" : f >= 0.75 ? " warn" : ""}`;
      el.setAttribute("aria-valuenow", (f * 100).toFixed(0));
      el.setAttribute("aria-valuetext", text);
      setText(value, text);
    },
  };
}

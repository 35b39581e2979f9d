// The dashboard's shell: the session, the header (navigation, theme, sign-out), the
// stale-inventory banners, and the hash router that mounts one view at a time.

import { ApiError, post, session } from "./api.js";
import { ageOf, connect, store } from "./store.js";
import { ago, h, route, setText } from "./util.js";

const views = {
  overview: () => import("./overview.js"),
  guests: () => import("./guests.js"),
  guest: () => import("./guest.js"),
  logs: () => import("./logs.js"),
  terminal: () => import("./terminal.js"),
};

const main = document.getElementById("main");
const banners = document.getElementById("banners");
const who = document.getElementById("who");
const ctx = { role: "viewer", name: "" };
let current = null;
let mountSeq = 0;

// Theme: auto (the system's), light or dark; kept in localStorage.
const themeButton = document.getElementById("theme");
function applyTheme(t) {
  if (t === "light" || t === "dark") document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
  setText(themeButton, `Theme: ${t}`);
  themeButton.setAttribute("aria-label", `Colour theme: ${t} (change)`);
}
let theme = localStorage.getItem("pvekit-theme") || "auto";
applyTheme(theme);
themeButton.addEventListener("click", () => {
  theme = { auto: "light", light: "dark", dark: "auto" }[theme] || "auto";
  localStorage.setItem("pvekit-theme", theme);
  applyTheme(theme);
  window.dispatchEvent(new Event("pvekit-theme"));
});

document.getElementById("logout").addEventListener("click", async () => {
  try {
    await post("/api/v1/logout");
  } finally {
    location.hash = "";
    location.reload();
  }
});

async function render() {
  const seq = ++mountSeq;
  const r = route();
  const name = views[r.path[0]] ? r.path[0] : "overview";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.view === (name === "guest" ? "guests" : name)) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const mod = await views[name]();
  if (seq !== mountSeq) return;
  if (current && current.unmount) current.unmount();
  main.replaceChildren();
  main.dataset.view = name;
  current = mod.mount(main, { ...ctx, route: r });
}

// Stale banners: one per cluster whose latest poll failed, with the age of the data shown.
const bannerEls = new Map();
function renderBanners() {
  for (const [name, s] of store.clusters) {
    let b = bannerEls.get(name);
    if (s.stale) {
      if (!b) {
        b = {
          el: h("div", { class: "banner", role: "alert", "data-cluster": name }),
          text: h("span"),
          age: h("span", { class: "banner-age" }),
        };
        b.el.append(b.text, " ", b.age);
        bannerEls.set(name, b);
        banners.append(b.el);
      }
      setText(b.text, `Cluster ${name} stopped answering: ${s.stale}.`);
      setText(b.age, `Showing its inventory from the last good poll, ${ago(ageOf(s))}.`);
    } else if (b) {
      b.el.remove();
      bannerEls.delete(name);
    }
  }
  const live = document.getElementById("live");
  setText(live, store.connected ? "Live" : "Reconnecting…");
  live.className = store.connected ? "live on" : "live off";
}

async function start() {
  try {
    Object.assign(ctx, await session());
  } catch (e) {
    document.body.classList.add("signed-out");
    main.replaceChildren(
      h(
        "section",
        { class: "panel signed-out-panel", role: "alert" },
        h("h1", null, "Not signed in"),
        h(
          "p",
          null,
          e instanceof ApiError && e.status === 401
            ? "This dashboard needs a session. Open a login link: pvekit serve prints one when it starts."
            : `The server did not answer: ${e.message}`,
        ),
      ),
    );
    return;
  }
  setText(who, `${ctx.name} (${ctx.role})`);
  store.on(renderBanners);
  setInterval(renderBanners, 1000);
  connect();
  window.addEventListener("hashchange", render);
  await render();
}

start();

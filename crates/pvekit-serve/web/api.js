// The serve API: JSON over fetch with the session cookie, the CSRF header on writes, and
// WebSocket URLs. Nothing here logs tokens or the CSRF value.

let csrf = null;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function check(r) {
  if (r.ok) return r;
  let text = `${r.status} ${r.statusText}`;
  try {
    const body = await r.json();
    text = body.error || body.message || text;
  } catch {
    /* not JSON */
  }
  throw new ApiError(r.status, text);
}

export async function getJSON(path) {
  const r = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  return (await check(r)).json();
}

/** `GET /api/v1/session`; keeps the CSRF token for later writes. */
export async function session() {
  const s = await getJSON("/api/v1/session");
  csrf = s.csrf || null;
  return { name: s.name, role: s.role };
}

export async function post(path, body) {
  const headers = { Accept: "application/json" };
  if (csrf) headers["X-PVEKit-CSRF"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  await check(r);
  return r.status === 204 ? null : r.json().catch(() => null);
}

export function wsURL(path) {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;
}

const ROLES = ["viewer", "operator", "admin"];
export function atLeast(role, wanted) {
  return ROLES.indexOf(role) >= ROLES.indexOf(wanted);
}

/** A WebSocket with the serve API's text keepalive ("ping" every 4 s, "pong" swallowed). */
export function keptAlive(ws) {
  const timer = setInterval(() => {
    if (ws.readyState === WebSocket.OPEN) ws.send("ping");
  }, 4000);
  ws.addEventListener("close", () => clearInterval(timer));
  return ws;
}

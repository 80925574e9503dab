/*
 * Staff check-in scanner (ES module, no build step).
 *
 * Online: every scan or typed code goes to POST /api/v1/checkin; the server decides.
 * Offline (navigator.onLine false, or the request fails on the network): the ticket's
 * Ed25519 signature is verified here against the organization's public keys (WebCrypto
 * Ed25519 where the browser has it, else the vendored @noble/ed25519), looked up in the
 * downloaded door list, and queued in localStorage. The queue is sent to
 * POST /api/v1/checkin/sync when the network is back; the server reports conflicts
 * (a ticket another device admitted first).
 *
 * The door list (keys + every ticket of the day or session with its state) is fetched
 * whenever the scope changes and every minute while online, so a device is ready for a
 * network drop without anyone remembering to press "Download".
 */

const $ = (id) => document.getElementById(id);
const root = $("scanner");
const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
const QUEUE_KEY = "bp.scan.queue";
const DEVICE_KEY = "bp.scan.device";
const LIST_REFRESH_MS = 60000;
const POLL_MS_LIVE = 30000;
const POLL_MS_NO_LIVE = 5000;
const LABELS = {
  ok: "Welcome", already_checked_in: "Already in", invalid: "Invalid",
  not_valid_now: "Not valid now", cancelled: "Cancelled", busy: "Checking…",
};

// ---- small utilities ------------------------------------------------------------------

function store(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); return true; }
  catch (e) { return false; } // quota or privacy mode: keep working online
}
function load(key, fallback) {
  try { const v = localStorage.getItem(key); return v ? JSON.parse(v) : fallback; }
  catch (e) { return fallback; }
}
function deviceId() {
  let id = load(DEVICE_KEY, null);
  if (!id) {
    id = "scanner-" + Array.from(crypto.getRandomValues(new Uint8Array(6)),
      (b) => b.toString(16).padStart(2, "0")).join("");
    store(DEVICE_KEY, id);
  }
  return id;
}
const DEVICE = deviceId();

function scope() {
  return { org: $("scan-org").value, day: $("scan-day").value,
           session: $("scan-session").value, gate: $("scan-gate").value.trim() || null };
}
function scopeQuery(s) {
  return s.session ? `session_id=${encodeURIComponent(s.session)}` : `day=${encodeURIComponent(s.day)}`;
}
function listKey(s) { return `bp.scan.list.${s.org}.${s.session ? "s" + s.session : "d" + s.day}`; }

class NetworkDown extends Error {}

async function api(path, body) {
  const init = { credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.headers["X-CSRF-Token"] = csrf;
    init.body = JSON.stringify(body);
  }
  let r;
  try { r = await fetch(path, init); }
  catch (e) { throw new NetworkDown(String(e)); }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(data.detail || `HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return data;
}

// ---- token reading (mirrors domain/tickets.py) ------------------------------------------

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
function b32decode(text) {
  let bits = 0, value = 0;
  const out = [];
  for (const ch of text.replace(/\s+/g, "").toUpperCase().replace(/=+$/, "")) {
    const i = B32.indexOf(ch);
    if (i < 0) throw new Error("not base32");
    value = ((value << 5) | i) & 0xfff;
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return new Uint8Array(out);
}
function b64uDecode(text) {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
function parseToken(token) {
  const raw = b32decode(token);
  if (raw.length <= 64 + 8) throw new Error("too short");
  const payload = raw.slice(0, raw.length - 64), signature = raw.slice(raw.length - 64);
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  if (v.getUint8(0) !== 1) throw new Error("unknown version");
  const refLen = v.getUint8(7);
  if (payload.length !== 8 + refLen + 18) throw new Error("wrong length");
  const ref = "BP-" + String.fromCharCode(...payload.slice(8, 8 + refLen));
  let o = 8 + refLen;
  return {
    payload, signature, kid: v.getUint16(1), org: v.getUint32(3), ref,
    position: v.getUint16(o), session: v.getUint32(o + 2) || null,
    validFrom: v.getUint32(o + 10) * 1000, validUntil: v.getUint32(o + 14) * 1000,
  };
}

let noble = null;
async function verifyEd25519(publicKey, signature, payload) {
  const pub = b64uDecode(publicKey);
  if (globalThis.crypto?.subtle) {
    try {
      const key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
      return await crypto.subtle.verify({ name: "Ed25519" }, key, signature, payload);
    } catch (e) { /* no Ed25519 in this browser's WebCrypto: use the vendored library */ }
  }
  try {
    noble = noble || await import("/static/vendor/noble-ed25519-3.2.0.js");
    return await noble.verifyAsync(signature, payload, pub);
  } catch (e) { return false; } // also: no crypto.subtle at all (plain http on a LAN)
}

// ---- display --------------------------------------------------------------------------

let audio = null;
function signal(ok) {
  try {
    audio = audio || new AudioContext();
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.type = ok ? "sine" : "square";
    osc.frequency.value = ok ? 880 : 220;
    gain.gain.value = 0.12;
    osc.connect(gain); gain.connect(audio.destination);
    osc.start(); osc.stop(audio.currentTime + (ok ? 0.15 : 0.45));
  } catch (e) { /* no audio: the colour and text still say it */ }
  if (navigator.vibrate) navigator.vibrate(ok ? 80 : [200, 100, 200]);
}

let current = null; // the booking shown, for the service buttons
function show(result, reason, extra = {}) {
  const box = $("scan-result");
  box.dataset.result = result;
  $("scan-big").textContent = LABELS[result] || result;
  $("scan-reason").textContent = reason || "";
  const who = [];
  if (extra.booking) who.push(`${extra.booking.customer?.name || ""} · ${extra.booking.ref}`);
  if (extra.checked_in_at && result !== "ok") {
    who.push(`in at ${new Date(extra.checked_in_at).toLocaleTimeString()}` +
             (extra.checked_in_by ? ` by ${extra.checked_in_by}` : ""));
  }
  if (extra.offline) who.push("offline — queued");
  $("scan-who").textContent = who.join(" · ");
  current = extra.booking || null;
  const actions = current?.allowed_actions || [];
  const slots = current?.offering?.shape === "slots";
  $("scan-actions").hidden = !(slots && (actions.includes("start") || actions.includes("complete")));
  for (const b of $("scan-actions").querySelectorAll("button")) {
    b.hidden = !actions.includes(b.dataset.action);
  }
  if (result !== "busy") signal(result === "ok");
}

function setCounter(checked, expected) {
  $("scan-checked").textContent = String(checked);
  $("scan-expected").textContent = String(expected);
}
function setNet() {
  const online = navigator.onLine;
  $("scan-net").dataset.state = online ? "online" : "offline";
  $("scan-net").textContent = online ? "Online" : "Offline";
}
function setQueue() {
  const n = load(QUEUE_KEY, []).length;
  $("scan-queue").dataset.count = String(n);
  $("scan-queue-count").textContent = String(n);
}

// ---- the door list (offline data) -----------------------------------------------------

async function refreshList() {
  const s = scope();
  if (!s.org || !navigator.onLine) return null;
  try {
    const list = await api(`/api/v1/orgs/${s.org}/checkin/list?${scopeQuery(s)}`);
    const old = load(listKey(s), null);
    list.local = old?.local || {}; // admissions queued here and not yet synced
    list.downloaded_at = new Date().toISOString();
    if (!store(listKey(s), list)) $("scan-offline-info").textContent = "Too large to keep offline.";
    else $("scan-offline-info").textContent =
      `${list.tickets.length} tickets and ${list.keys.length} key(s) ready offline (${new Date().toLocaleTimeString()}).`;
    if (!s.session) fillSessions(list.sessions || []);
    setCounter(list.checked_in, list.expected);
    return list;
  } catch (e) {
    if (!(e instanceof NetworkDown)) $("scan-offline-info").textContent = `Could not download: ${e.message}`;
    return null;
  }
}

function fillSessions(sessions) {
  const sel = $("scan-session"), chosen = sel.value;
  sel.replaceChildren(new Option("Whole day", ""));
  for (const s of sessions) {
    sel.add(new Option(new Date(s.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) +
      ` · #${s.id}`, String(s.id)));
  }
  sel.value = chosen;
}

// Keep the offline copy in step with admissions made online, so that a network drop
// right after does not let a ticket in twice or set the counter back.
function markAdmitted(s, ref, position) {
  const list = load(listKey(s), null);
  if (!list) return;
  const at = new Date().toISOString();
  for (const t of list.tickets) {
    if (t.ref === ref && t.status === "valid" && (position == null || t.position === position)) {
      t.status = "checked_in";
      t.checked_in_at = at;
    }
  }
  store(listKey(s), list);
}

function offlineCount(list) {
  let checked = 0, expected = 0;
  for (const t of list.tickets) {
    if (t.status === "cancelled") continue;
    expected += 1;
    if (t.status === "checked_in" || list.local[`${t.ref}:${t.position}`]) checked += 1;
  }
  return [checked, expected];
}

async function refreshStats() {
  const s = scope();
  if (!s.org) return;
  if (navigator.onLine) {
    try {
      const st = await api(`/api/v1/orgs/${s.org}/checkin/stats?${scopeQuery(s)}`);
      setCounter(st.checked_in, st.expected);
      // The counter moved (another gate, a cancellation): the offline copy is stale.
      const list = load(listKey(s), null);
      if (list && !load(QUEUE_KEY, []).length) {
        const [checked, expected] = offlineCount(list);
        if (checked !== st.checked_in || expected !== st.expected) refreshList();
      }
      return;
    } catch (e) { if (!(e instanceof NetworkDown)) return; }
  }
  const list = load(listKey(s), null);
  if (list) setCounter(...offlineCount(list));
}

// ---- checking in ----------------------------------------------------------------------

function looksLikeReference(text) {
  return /^(BP)?[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}$/.test(text.toUpperCase().replace(/[^A-Z0-9]/g, ""));
}

async function submit(code) {
  code = code.trim();
  if (!code) return;
  const s = scope();
  const isRef = looksLikeReference(code);
  const body = isRef ? { reference: code } : { token: code.replace(/\s+/g, "") };
  show("busy", "");
  if (navigator.onLine) {
    try {
      const out = await api("/api/v1/checkin", { ...body, gate: s.gate, device_id: DEVICE });
      show(out.result, out.reason, out);
      if (out.result === "ok" && out.booking) markAdmitted(s, out.booking.ref, body.token ? out.position : null);
      refreshStats();
      return;
    } catch (e) {
      if (!(e instanceof NetworkDown)) { show("invalid", e.message); return; }
    }
  }
  await offlineCheckIn(body, s);
}

async function offlineCheckIn(body, s) {
  const list = load(listKey(s), null);
  if (!list) { show("invalid", "Offline and no door list downloaded for this day or session."); return; }
  let entries;
  if (body.token) {
    let t;
    try { t = parseToken(body.token); } catch (e) { show("invalid", "This is not a Bookpulse ticket."); return; }
    if (String(t.org) !== String(s.org)) { show("invalid", "This ticket is not for this organization."); return; }
    const key = list.keys.find((k) => k.kid === t.kid);
    if (!key) { show("invalid", "This ticket was signed with an unknown or retired key."); return; }
    if (!(await verifyEd25519(key.public_key, t.signature, t.payload))) {
      show("invalid", "The ticket's signature is not valid: forged or altered."); return;
    }
    const now = Date.now();
    if (now < t.validFrom || now > t.validUntil) { show("not_valid_now", "Not valid at this time."); return; }
    entries = list.tickets.filter((x) => x.ref === t.ref && x.position === t.position);
    if (!entries.length) { show("not_valid_now", "Not on this day's or session's list."); return; }
  } else {
    const ref = "BP-" + body.reference.toUpperCase().replace(/[^A-Z0-9]/g, "").replace(/^BP/, "");
    entries = list.tickets.filter((x) => x.ref === ref);
    if (!entries.length) { show("invalid", "No such booking on this list."); return; }
  }
  const booking = { ref: entries[0].ref, customer: { name: entries[0].name } };
  if (entries.every((x) => x.status === "cancelled")) { show("cancelled", "This booking is cancelled.", { booking }); return; }
  const open = entries.filter((x) => x.status === "valid" && !list.local[`${x.ref}:${x.position}`]);
  if (!open.length) {
    const first = entries.find((x) => x.checked_in_at) || {};
    show("already_checked_in", "Already checked in.", { booking, checked_in_at: first.checked_in_at });
    return;
  }
  for (const x of open) list.local[`${x.ref}:${x.position}`] = new Date().toISOString();
  store(listKey(s), list);
  const queue = load(QUEUE_KEY, []);
  queue.push({ id: `${DEVICE}-${Date.now()}-${queue.length}`, ...body,
               scanned_at: new Date().toISOString(), device_id: DEVICE, gate: s.gate });
  store(QUEUE_KEY, queue);
  setQueue();
  show("ok", open.length > 1 ? `Checked in (${open.length} people).` : "Checked in.", { booking, offline: true });
  setCounter(...offlineCount(list));
}

let syncing = false;
async function sync() {
  const queue = load(QUEUE_KEY, []);
  if (syncing || !queue.length || !navigator.onLine) return;
  syncing = true;
  try {
    const batch = queue.slice(0, 500);
    const out = await api("/api/v1/checkin/sync", {
      scans: batch.map(({ token, reference, scanned_at, device_id, gate }) =>
        ({ token, reference, scanned_at, device_id, gate })),
    });
    const sent = new Set(batch.map((q) => q.id));
    store(QUEUE_KEY, load(QUEUE_KEY, []).filter((q) => !sent.has(q.id)));
    const ul = $("scan-conflicts");
    for (const c of out.conflicts) {
      const li = document.createElement("li");
      li.textContent = `${c.booking?.ref || "?"}: admitted first on ${c.first_device_id || "another device"}` +
        (c.checked_in_at ? ` at ${new Date(c.checked_in_at).toLocaleTimeString()}` : "");
      ul.append(li);
    }
    if (out.conflicts.length) ul.closest("details").open = true;
  } catch (e) {
    /* stays queued; the next online event or tick tries again */
  } finally {
    syncing = false;
    setQueue();
  }
  await refreshList();
  await refreshStats();
}

// ---- camera ---------------------------------------------------------------------------

let stream = null, detector = null, lastCode = "", lastAt = 0;
function onCode(text) {
  const now = Date.now();
  if (text === lastCode && now - lastAt < 3000) return; // the same code still in view
  lastCode = text; lastAt = now;
  submit(text);
}
function loadJsQR() {
  if (window.jsQR) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "/static/vendor/jsQR-1.4.0.js";
    s.onload = resolve; s.onerror = reject;
    document.head.append(s);
  });
}
async function startCamera() {
  const note = $("scan-camera-note");
  if (!navigator.mediaDevices?.getUserMedia) { note.textContent = "No camera here: type the reference."; return; }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (e) { note.textContent = `Camera unavailable: ${e.message}`; return; }
  const video = $("scan-video");
  video.srcObject = stream; video.hidden = false;
  await video.play();
  detector = null;
  if ("BarcodeDetector" in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    } catch (e) { detector = null; }
  }
  if (!detector) await loadJsQR();
  note.textContent = detector ? "Scanning (built-in detector)" : "Scanning (jsQR)";
  $("scan-camera-toggle").textContent = "Stop camera";
  scanLoop();
}
function stopCamera() {
  if (stream) stream.getTracks().forEach((t) => t.stop());
  stream = null;
  $("scan-video").hidden = true;
  $("scan-camera-toggle").textContent = "Start camera";
}
async function scanLoop() {
  if (!stream) return;
  const video = $("scan-video");
  try {
    if (video.readyState >= 2) {
      if (detector) {
        const codes = await detector.detect(video);
        if (codes.length) onCode(codes[0].rawValue);
      } else {
        const canvas = $("scan-canvas"), w = video.videoWidth, h = video.videoHeight;
        canvas.width = w; canvas.height = h;
        const ctx = canvas.getContext("2d", { willReadFrequently: true });
        ctx.drawImage(video, 0, 0, w, h);
        const code = window.jsQR(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
        if (code) onCode(code.data);
      }
    }
  } catch (e) { /* a frame that could not be read: try the next */ }
  setTimeout(scanLoop, detector ? 150 : 250);
}

// ---- wiring ---------------------------------------------------------------------------

$("scan-manual").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("scan-code");
  submit(input.value);
  input.value = "";
  input.focus();
});
$("scan-camera-toggle").addEventListener("click", () => (stream ? stopCamera() : startCamera()));
$("scan-download").addEventListener("click", () => refreshList());
$("scan-actions").addEventListener("click", async (e) => {
  const action = e.target?.dataset?.action;
  if (!action || !current) return;
  try {
    const b = await api(`/api/v1/bookings/${current.ref}/transitions`, { action });
    show("ok", action === "start" ? "Service started." : "Service completed.", { booking: b });
  } catch (err) { show("invalid", err.message); }
});
for (const id of ["scan-org", "scan-day", "scan-session"]) {
  $(id).addEventListener("change", async () => {
    if (id !== "scan-session") $("scan-session").value = "";
    await refreshList();
    await refreshStats();
  });
}
window.addEventListener("online", () => { setNet(); sync(); });
window.addEventListener("offline", setNet);

let live = null;
function connectLive() {
  if (!window.BookpulseLive) return false;
  let timer = null;
  live = window.BookpulseLive.connect({
    applyToDom: false, indicator: false,
    onStatus(state) { root.dataset.live = state; },
    onEvent(msg) {
      const type = msg.event?.type;
      if (type === "checked_in" || type === "cancelled" || type === "confirmed") {
        clearTimeout(timer);
        // A burst of scans at other gates: one refresh of the counter and offline list.
        timer = setTimeout(() => { refreshList().then(refreshStats); }, 300);
      }
    },
  });
  return true;
}

setNet();
setQueue();
(async () => {
  await refreshList();
  await refreshStats();
  await sync();
  // live.js loads with defer, after this module may have run: give it a moment.
  const hasLive = connectLive() || await new Promise((r) => setTimeout(() => r(connectLive()), 500));
  setInterval(refreshStats, hasLive ? POLL_MS_LIVE : POLL_MS_NO_LIVE);
  setInterval(() => { sync(); }, 15000);
  setInterval(() => { if (navigator.onLine && !load(QUEUE_KEY, []).length) refreshList(); }, LIST_REFRESH_MS);
})();
root.dataset.ready = "yes";

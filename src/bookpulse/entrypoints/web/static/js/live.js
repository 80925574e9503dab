/*
 * Bookpulse live stream client — plain JavaScript, no build step, no dependencies.
 * Load it with a classic script tag; it defines window.BookpulseLive:
 *
 *   <script src="/static/js/live.js" defer></script>
 *
 * API
 * ---
 *   const live = BookpulseLive.connect({
 *     watch: [3, 7],            // offering ids whose availability to follow (anyone may watch
 *                               //   published offerings; staff their organization's)
 *     lastEventId: 1234,        // the log position the page's HTML was rendered at (optional;
 *                               //   otherwise the id kept in sessionStorage, otherwise "now")
 *     onEvent(msg) {},          // a booking event the viewer may see, see MESSAGES below;
 *                               //   msg.applied is false when the page already had a newer
 *                               //   version of that booking (the event is still new: a note...)
 *     onAvailability(av, msg) {},// an availability change of a watched offering
 *     onReset(info) {},         // the server cannot replay from our position (retention):
 *                               //   reload your snapshot. Default: location.reload()
 *     onStatus(state) {},       // "connecting" | "open" | "reconnecting" | "unauthorized" | "closed"
 *     onAuthExpired() {},       // the token/session expired (close code 4401). Default: keep
 *                               //   retrying with backoff (cookie pages: the user may sign in
 *                               //   again in another tab). Return a Promise to wait for it.
 *     getToken: async () => "…",// API clients: a fresh access token before each connect
 *                               //   (pages use the session cookie and leave this out)
 *     transport: "auto",        // "auto" (WebSocket, falls back to SSE) | "websocket" | "sse"
 *     applyToDom: true,         // update [data-booking-ref] / availability elements (below)
 *     indicator: true,          // show the discreet "Reconnecting…" element (or pass an Element)
 *     url: "/api/v1/live", sseUrl: "/api/v1/live/sse",
 *   });
 *   live.watch([3, 7, 9]);      // replace the watched offering ids (WebSocket: no reconnect)
 *   live.lastEventId;           // the last log id applied
 *   live.state;                 // see onStatus
 *   live.close();
 *
 *   BookpulseLive.applyBooking(msg)       // the DOM helper connect() uses (see below)
 *   BookpulseLive.applyAvailability(av)
 *
 * Auto start: <script src="/static/js/live.js" data-autoconnect data-watch="3,7"
 *   data-last-event-id="1234" defer></script> connects with the DOM helpers only.
 *
 * MESSAGES (JSON; `id` is the event-log id, increasing)
 *   {type:"event", id, event:{id,type,from_status,to_status,actor,reason,data,version,created_at},
 *    booking:{ref,status,version,start,end,offering_id,session_id}, availability?}
 *   {type:"availability", id, offering_id, session_id, shape, change:"taken"|"released"|"moved",
 *    quantity, seat_ids?, nights?, resource_id?, start?, end?, places_left?, capacity?}
 *   {type:"heartbeat", last_event_id}   // every ~25 s; all before it has been sent
 *   {type:"reset", last_event_id, reason}  // reload a snapshot; continue from last_event_id
 *   {type:"hello", last_event_id, ...} {type:"watching", offering_ids, denied}
 * Close codes: 4401 credentials expired/invalid (re-authenticate, resume), 4403 refused,
 *   4408 too slow (resume), 4400 bad request, 1012 server restarting (resume).
 *
 * DOM HELPER (applyToDom)
 *   Any element with data-booking-ref="REF" gets data-booking-status and data-booking-version
 *   updated (only when the message's version is newer than the element's
 *   data-booking-version), so CSS can style [data-booking-status=confirmed]. Inside it (or on
 *   it), [data-booking-field="status"] gets the status label, [data-booking-field="start"] /
 *   ="end" the local time (a <time> also gets its datetime attribute). A bubbling
 *   "bookpulse:booking" CustomEvent {booking, event} is dispatched on each updated element.
 *   Availability: [data-places-left][data-session-id="S"] gets the places left as text;
 *   [data-offering-id="O"] [data-seat-id="X"] gets data-seat-state="taken"|"free";
 *   a "bookpulse:availability" CustomEvent is dispatched on document.
 */
(function () {
  "use strict";

  var STORAGE_KEY = "bookpulse.live.lastEventId";
  var BASE_DELAY_MS = 500;
  var MAX_DELAY_MS = 30000;
  var STABLE_MS = 10000;          // a connection open this long resets the backoff
  var WATCHDOG_MS = 65000;        // no message at all for this long: the link is dead
  var WS_FAILURES_BEFORE_SSE = 2; // WebSocket never opened this many times: use SSE

  function readStored() {
    try {
      var v = parseInt(window.sessionStorage.getItem(STORAGE_KEY) || "", 10);
      return isFinite(v) && v >= 0 ? v : null;
    } catch (e) { return null; } // storage disabled (privacy mode): keep it in memory
  }

  function store(id) {
    try { window.sessionStorage.setItem(STORAGE_KEY, String(id)); } catch (e) { /* memory only */ }
  }

  function statusLabel(status) {
    var s = String(status || "").replace(/_/g, " ");
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  function formatTime(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  function cssEscape(v) {
    return window.CSS && CSS.escape ? CSS.escape(String(v)) : String(v).replace(/["\\]/g, "\\$&");
  }

  function setField(root, name, text, datetime) {
    var nodes = root.querySelectorAll('[data-booking-field="' + name + '"]');
    var all = Array.prototype.slice.call(nodes);
    if (root.getAttribute && root.getAttribute("data-booking-field") === name) all.push(root);
    all.forEach(function (el) {
      el.textContent = text;
      if (datetime && el.tagName === "TIME") el.setAttribute("datetime", datetime);
    });
  }

  /** Update every element showing this booking, if the message is newer than what it shows.
   *  Returns the number of elements updated. */
  function applyBooking(msg) {
    var b = msg && msg.booking;
    if (!b || !b.ref) return 0;
    var els = document.querySelectorAll('[data-booking-ref="' + cssEscape(b.ref) + '"]');
    var n = 0;
    Array.prototype.forEach.call(els, function (el) {
      var shown = parseInt(el.getAttribute("data-booking-version") || "0", 10) || 0;
      if (b.version <= shown) return;
      el.setAttribute("data-booking-version", String(b.version));
      el.setAttribute("data-booking-status", b.status);
      setField(el, "status", statusLabel(b.status));
      if (b.start) setField(el, "start", formatTime(b.start), b.start);
      if (b.end) setField(el, "end", formatTime(b.end), b.end);
      el.dispatchEvent(new CustomEvent("bookpulse:booking", {
        bubbles: true, detail: { booking: b, event: msg.event },
      }));
      n += 1;
    });
    return n;
  }

  function applyAvailability(av) {
    if (!av) return;
    if (av.session_id != null && av.places_left != null) {
      var sel = '[data-places-left][data-session-id="' + cssEscape(av.session_id) + '"]';
      Array.prototype.forEach.call(document.querySelectorAll(sel), function (el) {
        el.textContent = String(av.places_left);
        el.setAttribute("data-places-left", String(av.places_left));
      });
    }
    var seats = av.seat_ids || [];
    if (seats.length) {
      var state = av.change === "released" ? "free" : "taken";
      var scope = document.querySelectorAll('[data-offering-id="' + cssEscape(av.offering_id) + '"]');
      Array.prototype.forEach.call(scope, function (root) {
        seats.forEach(function (seatId) {
          var seat = root.querySelector('[data-seat-id="' + cssEscape(seatId) + '"]');
          if (!seat) return;
          seat.setAttribute("data-seat-state", state);
          seat.setAttribute("aria-disabled", state === "taken" ? "true" : "false");
        });
      });
    }
    document.dispatchEvent(new CustomEvent("bookpulse:availability", { detail: av }));
  }

  function makeIndicator(option) {
    if (option === false) return null;
    if (option && option.nodeType === 1) return option;
    var el = document.getElementById("bp-live-indicator");
    if (el) return el;
    el = document.createElement("div");
    el.id = "bp-live-indicator";
    el.className = "live-indicator";
    el.setAttribute("role", "status");
    el.setAttribute("aria-live", "polite");
    el.hidden = true;
    el.style.cssText = "position:fixed;bottom:.75rem;left:50%;transform:translateX(-50%);" +
      "z-index:1000;padding:.3rem .8rem;border-radius:1rem;font-size:.85rem;" +
      "background:rgba(30,30,30,.85);color:#fff;pointer-events:none";
    (document.body || document.documentElement).appendChild(el);
    return el;
  }

  function fullJitter(attempt) {
    var ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * Math.pow(2, attempt));
    return Math.floor(Math.random() * ceiling);
  }

  function connect(options) {
    var opts = options || {};
    var noop = function () {};
    var onEvent = opts.onEvent || noop;
    var onAvailability = opts.onAvailability || noop;
    var onStatus = opts.onStatus || noop;
    var onReset = opts.onReset || function () { window.location.reload(); };
    var onAuthExpired = opts.onAuthExpired || noop;
    var applyDom = opts.applyToDom !== false;
    var wsPath = opts.url || "/api/v1/live";
    var ssePath = opts.sseUrl || "/api/v1/live/sse";
    var transport = opts.transport || "auto";
    var indicator = null;

    var initial = opts.lastEventId != null ? parseInt(opts.lastEventId, 10) : readStored();
    var self = {
      lastEventId: isFinite(initial) && initial !== null ? initial : null,
      state: "connecting",
      watching: (opts.watch || []).map(Number).filter(function (x) { return x > 0; }),
      watch: watch,
      close: close,
    };
    var versions = {};         // booking ref -> newest version applied
    var socket = null;         // WebSocket or EventSource
    var attempt = 0;
    var wsFailures = 0;
    var useSse = transport === "sse" || !("WebSocket" in window);
    var closed = false;
    var timer = null;
    var watchdog = null;
    var openedAt = 0;
    var gotMessage = false;

    function setState(state) {
      if (self.state === state) return;
      self.state = state;
      if (opts.indicator !== false) {
        indicator = indicator || makeIndicator(opts.indicator);
        if (indicator) {
          var show = state === "reconnecting" || state === "unauthorized";
          indicator.hidden = !show;
          indicator.textContent = state === "unauthorized" ? "Signed out — live updates paused"
            : "Reconnecting…";
          indicator.setAttribute("data-live-state", state);
        }
      }
      onStatus(state);
    }

    function advance(id) {
      if (typeof id !== "number" || !(id > (self.lastEventId || 0))) return;
      self.lastEventId = id;
      store(id);
    }

    function handle(msg) {
      gotMessage = true;
      armWatchdog();
      switch (msg.type) {
        case "event":
        case "availability":
          if (self.lastEventId !== null && msg.id <= self.lastEventId) return; // duplicate
          if (msg.type === "event") {
            var b = msg.booking || {};
            var known = versions[b.ref] || 0;
            msg.applied = (b.version || 0) > known;
            if (msg.applied) versions[b.ref] = b.version;
            if (msg.applied && applyDom) applyBooking(msg);
            advance(msg.id);
            onEvent(msg);
            if (msg.availability) {
              if (applyDom) applyAvailability(msg.availability);
              onAvailability(msg.availability, msg);
            }
          } else {
            advance(msg.id);
            if (applyDom) applyAvailability(msg);
            onAvailability(msg, msg);
          }
          return;
        case "heartbeat":
          // Everything up to this id that we may see has been sent before it.
          advance(msg.last_event_id);
          return;
        case "hello":
          // The stream starts after this id: a fresh client resumes from here next time.
          advance(msg.last_event_id);
          return;
        case "reset":
          self.lastEventId = msg.last_event_id;
          store(msg.last_event_id);
          versions = {};
          onReset(msg);
          return;
        default:
          return; // hello, watching, error: informational
      }
    }

    function armWatchdog() {
      if (watchdog) clearTimeout(watchdog);
      watchdog = setTimeout(function () {
        // Half-open link (sleeping laptop, dead NAT entry): start again.
        dropSocket();
        schedule();
      }, WATCHDOG_MS);
    }

    function query(extra) {
      var parts = [];
      if (self.lastEventId !== null) parts.push("last_event_id=" + self.lastEventId);
      if (self.watching.length) parts.push("watch=" + self.watching.join(","));
      if (extra) parts.push(extra);
      return parts.length ? "?" + parts.join("&") : "";
    }

    function dropSocket() {
      if (watchdog) { clearTimeout(watchdog); watchdog = null; }
      if (!socket) return;
      var s = socket;
      socket = null;
      s.onopen = s.onmessage = s.onerror = s.onclose = null;
      try { s.close(); } catch (e) { /* already closed */ }
    }

    function schedule(delay) {
      if (closed || timer) return;
      setState(self.state === "unauthorized" ? "unauthorized" : "reconnecting");
      var wait = delay != null ? delay : fullJitter(attempt);
      attempt += 1;
      timer = setTimeout(function () { timer = null; open(); }, wait);
    }

    function opened() {
      openedAt = Date.now();
      wsFailures = 0;
      setState("open");
      armWatchdog();
    }

    function ended(code) {
      var stable = openedAt && Date.now() - openedAt > STABLE_MS;
      if (stable || gotMessage) attempt = 0;
      openedAt = 0;
      dropSocket();
      if (closed) return;
      if (code === 4401) {
        setState("unauthorized");
        Promise.resolve(onAuthExpired()).then(function () { schedule(); }, function () { schedule(); });
        return;
      }
      if (code === 4400 || code === 4403) { setState("closed"); return; } // retrying won't help
      schedule(code === 4408 || code === 1012 ? fullJitter(1) : undefined);
    }

    function openWebSocket(token) {
      var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
      var extra = token ? "access_token=" + encodeURIComponent(token) : "";
      var ws = new WebSocket(proto + "//" + window.location.host + wsPath + query(extra));
      var didOpen = false;
      socket = ws;
      gotMessage = false;
      ws.onopen = function () { didOpen = true; opened(); };
      ws.onmessage = function (e) {
        var msg;
        try { msg = JSON.parse(e.data); } catch (err) { return; }
        handle(msg);
      };
      ws.onclose = function (e) {
        if (!didOpen && transport === "auto" && e.code !== 4401 && e.code !== 4403) {
          wsFailures += 1;
          if (wsFailures >= WS_FAILURES_BEFORE_SSE) useSse = true;
        }
        ended(e.code);
      };
    }

    function openSse(token) {
      var extra = token ? "access_token=" + encodeURIComponent(token) : "";
      var es = new EventSource(ssePath + query(extra), { withCredentials: true });
      socket = es;
      gotMessage = false;
      es.onopen = opened;
      var onMsg = function (e) {
        var msg;
        try { msg = JSON.parse(e.data); } catch (err) { return; }
        handle(msg);
      };
      ["event", "availability", "heartbeat", "reset", "hello", "watching"].forEach(function (t) {
        es.addEventListener(t, onMsg);
      });
      es.addEventListener("close", function (e) {
        var info = {};
        try { info = JSON.parse(e.data); } catch (err) { /* no body */ }
        ended(info.code || 1000);
      });
      // EventSource would reconnect on its own, resuming from its own id; we reconnect
      // ourselves instead, so backoff, jitter and our stored id apply on both transports.
      es.onerror = function () { ended(0); };
    }

    function open() {
      if (closed) return;
      var tokenPromise = opts.getToken ? Promise.resolve(opts.getToken()) : Promise.resolve(null);
      tokenPromise.then(function (token) {
        if (closed) return;
        if (useSse) openSse(token); else openWebSocket(token);
      }, function () { schedule(); });
    }

    function watch(ids) {
      self.watching = (ids || []).map(Number).filter(function (x) { return x > 0; });
      if (socket && !useSse && socket.readyState === 1) {
        socket.send(JSON.stringify({ watch: self.watching }));
      } else if (socket && useSse) {
        dropSocket();   // SSE takes the watch list in the URL: reconnect, resuming
        open();
      }
    }

    function close() {
      closed = true;
      if (timer) { clearTimeout(timer); timer = null; }
      dropSocket();
      setState("closed");
    }

    window.addEventListener("online", function () {
      if (!closed && !socket) {
        if (timer) { clearTimeout(timer); timer = null; }
        open();
      }
    });
    window.addEventListener("pagehide", function (e) { if (!e.persisted) close(); });

    open();
    return self;
  }

  var api = {
    connect: connect,
    applyBooking: applyBooking,
    applyAvailability: applyAvailability,
    statusLabel: statusLabel,
  };
  window.BookpulseLive = api;

  var script = document.currentScript;
  if (script && script.hasAttribute("data-autoconnect")) {
    var start = function () {
      var watchAttr = script.getAttribute("data-watch") || "";
      var last = script.getAttribute("data-last-event-id");
      api.auto = connect({
        watch: watchAttr ? watchAttr.split(",").map(Number) : [],
        lastEventId: last !== null && last !== "" ? parseInt(last, 10) : null,
      });
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  }
})();

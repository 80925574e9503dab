/*
 * Bookpulse pages: small progressive enhancements, no build step.
 *
 * Live updates. A page opts in with an element carrying data-last-event-id (the log
 * position its HTML was rendered at). Events come from the live stream (live.js, the
 * /api/v1/live WebSocket/SSE) when the server has it, else from polling /live/poll. Each
 * event (a booking's new status/version/times, or an availability ping) is applied:
 *   [data-booking-ref=R][data-booking-field=status]  chip text + class, if version is newer
 *   [data-booking-ref=R][data-booking-field=start]   <time> in the element's data-tz
 *   [data-refresh-on-booking=R]  re-fetched from its data-refresh-url (outerHTML swap)
 *   [data-refresh-on-org=O]      same, for any event of the organization (the admin board)
 *   [data-watch-offering=O]      availability re-read from /offerings/O/availability.json
 * Without JavaScript every page still works; it just does not move by itself.
 */
(function () {
  "use strict";

  var POLL_MS = 1500;
  var MAX_POLL_MS = 15000;

  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function cssEscape(v) { return window.CSS && CSS.escape ? CSS.escape(String(v)) : String(v).replace(/["\\]/g, "\\$&"); }

  function label(status) {
    var s = String(status || "").replace(/_/g, " ");
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  function formatLocal(iso, tz) {
    try {
      return new Intl.DateTimeFormat("en-GB", {
        weekday: "short", day: "2-digit", month: "short", year: "numeric",
        hour: "2-digit", minute: "2-digit", hour12: false, timeZone: tz || "UTC",
        timeZoneName: "short"
      }).format(new Date(iso));
    } catch (e) { return iso; }
  }

  // ---- booking elements -----------------------------------------------------------
  function announce(text) {
    var box = document.getElementById("announcer");
    if (box) box.textContent = text;
  }

  function applyBooking(b) {
    if (!b || !b.ref) return false;
    var changed = false;
    var statusChanged = false;
    $all('[data-booking-ref="' + cssEscape(b.ref) + '"]').forEach(function (el) {
      var have = parseInt(el.getAttribute("data-booking-version") || "0", 10);
      if (b.version && have && b.version <= have) return;
      el.setAttribute("data-booking-version", String(b.version || have));
      var field = el.getAttribute("data-booking-field");
      if (field === "status") {
        if (el.getAttribute("data-booking-status") !== b.status) statusChanged = true;
        el.setAttribute("data-booking-status", b.status);
        el.className = "chip " + b.status + " flash-change";
        el.textContent = label(b.status);
      } else if (field === "start" && b.start) {
        el.setAttribute("datetime", b.start);
        el.textContent = formatLocal(b.start, el.getAttribute("data-tz"));
      }
      changed = true;
    });
    if (statusChanged) announce("Booking " + b.ref + " is now " + label(b.status) + ".");
    return changed;
  }

  // ---- region refresh -------------------------------------------------------------
  var pending = new Map();

  document.addEventListener("input", function (e) {
    var region = e.target && e.target.closest && e.target.closest("[data-refresh-url]");
    if (region) region.setAttribute("data-dirty", "1");
  });

  function refresh(el) {
    var url = el.getAttribute("data-refresh-url");
    if (!url || pending.has(url)) return;
    var active = document.activeElement;
    if (active && el.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && active.value) {
      // Someone is typing here (a reason, a time): refresh once they leave the field.
      active.addEventListener("blur", function () { refresh(el); }, { once: true });
      return;
    }
    var timer = setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          pending.delete(url);
          var current = document.querySelector('[data-refresh-url="' + cssEscape(url) + '"]');
          if (!current) return;
          // The reply may land after someone started editing a form here: their unsent
          // input wins (the page reloads when they submit), or waits for them to leave it.
          if (current.hasAttribute("data-dirty")) return;
          var focused = document.activeElement;
          if (focused && current.contains(focused) && /^(INPUT|TEXTAREA|SELECT)$/.test(focused.tagName)) {
            focused.addEventListener("blur", function () { refresh(current); }, { once: true });
            return;
          }
          var tpl = document.createElement("template");
          tpl.innerHTML = html.trim();
          var fresh = tpl.content.firstElementChild;
          if (!fresh) return;
          current.replaceWith(fresh);
          initCountdowns(fresh);
          initForms(fresh);
          fresh.dispatchEvent(new CustomEvent("bookpulse:refreshed", { bubbles: true }));
        })
        .catch(function () { pending.delete(url); });
    }, 120); // coalesce bursts (a bulk confirm moves many bookings at once)
    pending.set(url, timer);
  }

  // ---- availability ---------------------------------------------------------------
  var availTimers = {};

  function refreshAvailability(offeringId) {
    if (availTimers[offeringId]) return;
    availTimers[offeringId] = setTimeout(function () {
      delete availTimers[offeringId];
      var params = new URLSearchParams();
      $all('[data-watch-offering="' + offeringId + '"] [data-availability-param]').forEach(function (el) {
        if (el.value) params.set(el.getAttribute("data-availability-param"), el.value);
      });
      fetch("/offerings/" + offeringId + "/availability.json?" + params.toString(),
            { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (snap) { applySnapshot(offeringId, snap); })
        .catch(function () {});
    }, 150);
  }

  function applySnapshot(offeringId, snap) {
    var root = document.querySelector('[data-watch-offering="' + offeringId + '"]');
    if (!root || !snap) return;
    if (snap.sessions) {
      Object.keys(snap.sessions).forEach(function (sid) {
        var left = snap.sessions[sid];
        $all('[data-places-left][data-session-id="' + sid + '"]', root).forEach(function (el) { el.textContent = String(left); });
        $all('[data-session-row="' + sid + '"]', root).forEach(function (row) {
          var input = row.querySelector("input");
          row.classList.toggle("disabled", left <= 0);
          if (input) { input.disabled = left <= 0; if (left <= 0) input.checked = false; }
        });
      });
    }
    if (snap.taken_seats) {
      var taken = {};
      snap.taken_seats.forEach(function (id) { taken[id] = true; });
      $all("[data-seat-id]", root).forEach(function (seat) {
        var id = seat.getAttribute("data-seat-id");
        var isTaken = !!taken[id] && seat.getAttribute("aria-pressed") !== "true";
        if (taken[id] && seat.getAttribute("aria-pressed") === "true" && !seat.hasAttribute("data-mine")) {
          // Someone else bought a seat this visitor had picked: unpick it and say so.
          toggleSeat(seat, false);
          isTaken = true;
          var note = root.querySelector("[data-seat-note]");
          if (note) { note.hidden = false; note.textContent = "Seat " + (seat.getAttribute("aria-label") || id) + " was just taken by someone else."; }
        }
        if (isTaken) {
          seat.disabled = true;
          seat.classList.add("taken");
          seat.setAttribute("data-seat-state", "taken");
        } else if (!taken[id] && seat.getAttribute("data-seat-state") === "taken" && !seat.hasAttribute("data-blocked")) {
          seat.disabled = false;
          seat.classList.remove("taken");
          seat.setAttribute("data-seat-state", "free");
        }
      });
    }
    if (snap.cells) {
      Object.keys(snap.cells).forEach(function (key) {
        $all('[data-cell="' + cssEscape(key) + '"]', root).forEach(function (el) { el.textContent = snap.cells[key]; });
      });
    }
    if (snap.enabled) {
      Object.keys(snap.enabled).forEach(function (key) {
        $all('[data-avail-key="' + cssEscape(key) + '"]', root).forEach(function (input) {
          var on = !!snap.enabled[key];
          input.disabled = !on;
          if (!on) input.checked = false;
          var choice = input.closest(".choice");
          if (choice) choice.classList.toggle("disabled", !on);
        });
      });
    }
    if (snap.free) {
      var free = {};
      snap.free.forEach(function (iso) { free[new Date(iso).getTime()] = true; });
      $all("[data-slot-start]", root).forEach(function (input) {
        var on = !!free[new Date(input.getAttribute("data-slot-start")).getTime()];
        input.disabled = !on;
        if (!on) input.checked = false;
        var choice = input.closest(".choice");
        if (choice) choice.classList.toggle("disabled", !on);
      });
    }
    if (snap.html_regions) {
      Object.keys(snap.html_regions).forEach(function (key) {
        var el = root.querySelector('[data-availability-region="' + key + '"]');
        if (el) el.innerHTML = snap.html_regions[key];
      });
    }
    root.dispatchEvent(new CustomEvent("bookpulse:availability", { bubbles: true, detail: snap }));
  }

  // ---- the feed --------------------------------------------------------------------
  function handle(ev) {
    if (ev.booking) {
      applyBooking(ev.booking);
      // The notification bell (bell.js) refreshes its count on this.
      document.dispatchEvent(new CustomEvent("bookpulse:notification", { detail: ev }));
      $all('[data-refresh-on-booking="' + cssEscape(ev.booking.ref) + '"]').forEach(function (el) {
        var have = parseInt(el.getAttribute("data-booking-version") || "0", 10);
        if (!ev.booking.version || ev.booking.version > have) refresh(el);
      });
      $all('[data-refresh-on-org="' + ev.booking.org_id + '"]').forEach(refresh);
      if (!ev.booking.org_id) $all("[data-refresh-on-org]").forEach(refresh);
    }
    if (ev.offering_id && document.querySelector('[data-watch-offering="' + ev.offering_id + '"]')) {
      refreshAvailability(ev.offering_id);
    }
  }

  function watched() {
    return $all("[data-watch-offering]").map(function (el) { return parseInt(el.getAttribute("data-watch-offering"), 10); })
      .filter(function (n) { return n > 0; });
  }

  function startPolling(lastId) {
    var delay = POLL_MS;
    var indicator = document.getElementById("conn-state");
    var watch = watched().join(",");
    function tick() {
      fetch("/live/poll?after=" + lastId + (watch ? "&watch=" + watch : ""), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (body) {
          if (indicator) indicator.hidden = true;
          body.events.forEach(handle);
          lastId = Math.max(lastId, body.last_event_id || 0);
          delay = POLL_MS;
        })
        .catch(function () {
          if (indicator) indicator.hidden = false;
          delay = Math.min(delay * 2, MAX_POLL_MS);
        })
        .then(function () { setTimeout(tick, document.hidden ? Math.max(delay, 5000) : delay); });
    }
    setTimeout(tick, 300);
  }

  function startLive() {
    var anchor = document.querySelector("[data-last-event-id]");
    if (!anchor) return;
    var lastId = parseInt(anchor.getAttribute("data-last-event-id") || "0", 10) || 0;
    var useStream = document.body.getAttribute("data-live-stream") === "on" && window.BookpulseLive;
    if (!useStream) { startPolling(lastId); return; }
    var fellBack = false;
    var live = window.BookpulseLive.connect({
      watch: watched(), lastEventId: lastId, applyToDom: false, indicator: true,
      onEvent: function (msg) {
        var b = msg.booking || {};
        handle({ id: msg.id, type: msg.event && msg.event.type, offering_id: b.offering_id,
                 booking: { ref: b.ref, status: b.status, version: b.version, start: b.start,
                            end: b.end, org_id: msg.event && msg.event.org_id || b.org_id } });
      },
      onAvailability: function (av) { if (av && av.offering_id) refreshAvailability(av.offering_id); },
      // A reload while a form post is on its way would resubmit it: the page is about
      // to change anyway, so a reset during a submission is left to the new page.
      onReset: function () { if (!window.__bpSubmitting) location.reload(); },
      onStatus: function (state) {
        if ((state === "unauthorized" || state === "closed") && !fellBack) {
          fellBack = true;
          live.close();
          startPolling(live.lastEventId || lastId);
        }
      }
    });
  }

  // ---- hold countdown ---------------------------------------------------------------
  function initCountdowns(root) {
    $all("[data-hold-until]", root).forEach(function (box) {
      var until = Date.parse(box.getAttribute("data-hold-until"));
      var serverNow = Date.parse(box.getAttribute("data-now") || "") || Date.now();
      var skew = Date.now() - serverNow; // the server's clock is the truth
      var out = box.querySelector("[data-countdown]");
      function tick() {
        var left = Math.max(0, until - (Date.now() - skew));
        if (out) {
          var m = Math.floor(left / 60000), s = Math.floor((left % 60000) / 1000);
          out.textContent = m + ":" + (s < 10 ? "0" : "") + s;
        }
        if (left <= 0) {
          var msg = box.querySelector("[data-hold-expired-text]");
          if (msg) msg.hidden = false;
          return;
        }
        if (document.body.contains(box)) setTimeout(tick, 1000);
      }
      tick();
    });
  }

  // ---- forms ------------------------------------------------------------------------
  function initForms(root) {
    $all("form[data-confirm], button[data-confirm]", root).forEach(function (el) {
      if (el.__bpConfirm) return;
      el.__bpConfirm = true;
      var form = el.tagName === "FORM" ? el : el.form;
      var handler = function (e) {
        if (!window.confirm(el.getAttribute("data-confirm"))) { e.preventDefault(); e.stopPropagation(); }
      };
      if (el.tagName === "FORM") form.addEventListener("submit", function (e) {
        if (e.submitter && e.submitter.hasAttribute("data-confirm")) return;
        handler(e);
      });
      else el.addEventListener("click", handler);
    });
    $all("[data-select-all]", root).forEach(function (box) {
      box.addEventListener("change", function () {
        $all('input[type=checkbox][name="' + box.getAttribute("data-select-all") + '"]', box.form || document)
          .forEach(function (cb) { cb.checked = box.checked; });
      });
    });
    $all("form", root).forEach(function (form) {
      if (form.method.toLowerCase() !== "post" || form.__bpOnce) return;
      form.__bpOnce = true;
      form.addEventListener("submit", function (e) {
        if (e.defaultPrevented) return;
        window.__bpSubmitting = true;
        var btn = e.submitter;
        if (btn) setTimeout(function () { btn.disabled = true; btn.setAttribute("aria-busy", "true"); }, 0);
      });
    });
  }

  // ---- seat picker --------------------------------------------------------------------
  function toggleSeat(seat, on) {
    var root = seat.closest("[data-seat-picker]");
    if (!root) return;
    seat.setAttribute("aria-pressed", on ? "true" : "false");
    var holder = root.querySelector("[data-seat-inputs]");
    var id = seat.getAttribute("data-seat-id");
    var existing = holder.querySelector('input[value="' + cssEscape(id) + '"]');
    if (on && !existing) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "seat_ids"; input.value = id;
      holder.appendChild(input);
    } else if (!on && existing) { existing.remove(); }
    var chosen = $all('[data-seat-id][aria-pressed="true"]', root);
    var summary = root.querySelector("[data-seat-summary]");
    if (summary) {
      var total = chosen.reduce(function (sum, s) { return sum + parseInt(s.getAttribute("data-price") || "0", 10); }, 0);
      var cur = root.getAttribute("data-currency") || "";
      summary.textContent = chosen.length ? chosen.length + " seat" + (chosen.length > 1 ? "s" : "") + ": " +
        chosen.map(function (s) { return s.getAttribute("data-label"); }).join(", ") + " · " + (total / 100).toFixed(2) + " " + cur
        : "No seats chosen yet.";
    }
    var submit = root.querySelector("[data-seat-submit]");
    if (submit) submit.disabled = chosen.length === 0;
  }

  function initSeats(root) {
    $all("[data-seat-picker]", root).forEach(function (picker) {
      picker.addEventListener("click", function (e) {
        var seat = e.target.closest("[data-seat-id]");
        if (!seat || seat.disabled) return;
        e.preventDefault();
        toggleSeat(seat, seat.getAttribute("aria-pressed") !== "true");
      });
    });
  }

  // ---- service worker -----------------------------------------------------------------
  function registerWorker() {
    if (!("serviceWorker" in navigator) || location.protocol === "file:") return;
    if (document.body.getAttribute("data-sw") === "off") return;
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  }

  function init() {
    initForms(document);
    initCountdowns(document);
    initSeats(document);
    startLive();
    registerWorker();
  }

  window.Bookpulse = { applyBooking: applyBooking, applySnapshot: applySnapshot, refresh: refresh, handle: handle };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

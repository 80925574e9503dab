/*
 * The notification bell's count (templates/fragments/bell.html). No dependencies.
 * Refreshes from GET /api/v1/notifications/unread-count (session cookie): on load, every
 * 60 s while visible, when the tab becomes visible, and shortly after live booking
 * events ("bookpulse:booking" bubbling from live.js's DOM updates, or a
 * "bookpulse:notification" event on document). In-app notifications are written by the
 * delivery worker a moment after the booking event, hence the two delayed refreshes.
 */
(function () {
  "use strict";
  if (window.__bpBell) return;
  window.__bpBell = true;

  var inflight = false;
  var timers = [];

  function bell() { return document.getElementById("bp-bell"); }

  function show(n) {
    var el = bell();
    if (!el) return;
    var badge = el.querySelector("[data-bell-count]");
    el.setAttribute("data-unread", String(n));
    el.setAttribute("aria-label", n ? "Notifications, " + n + " unread" : "Notifications");
    if (badge) {
      badge.textContent = n > 99 ? "99+" : String(n);
      badge.hidden = !n;
    }
  }

  function refresh() {
    if (inflight || !bell() || document.body.getAttribute("data-signed-in") === "no") return;
    inflight = true;
    fetch("/api/v1/notifications/unread-count", { credentials: "same-origin",
                                                  headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body && typeof body.unread_count === "number") show(body.unread_count); })
      .catch(function () { /* offline: keep the last count */ })
      .then(function () { inflight = false; });
  }

  function soon() {
    timers.forEach(clearTimeout);
    timers = [setTimeout(refresh, 1500), setTimeout(refresh, 5000)];
  }

  document.addEventListener("bookpulse:booking", soon);
  document.addEventListener("bookpulse:notification", function (e) {
    if (e.detail && typeof e.detail.unread_count === "number") show(e.detail.unread_count);
    else soon();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") refresh();
  });
  setInterval(function () { if (document.visibilityState === "visible") refresh(); }, 60000);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", refresh);
  else refresh();
})();

/*
 * Push handlers for the service worker: /sw.js does importScripts('/static/sw-push.js').
 * A push message is JSON {title, body, url, ref, kind, tag} (adapters/notify/compose.py).
 * Clicking the notification focuses a tab already on the booking or opens it; only
 * same-origin URLs are opened.
 */
/* global self, clients */
(function () {
  "use strict";

  function sameOrigin(url) {
    try {
      var u = new URL(url || "/", self.location.origin);
      return u.origin === self.location.origin ? u.href : self.location.origin + "/";
    } catch (e) { return self.location.origin + "/"; }
  }

  self.addEventListener("push", function (event) {
    var data = {};
    try { data = event.data ? event.data.json() : {}; }
    catch (e) { data = { title: "Bookpulse", body: event.data ? event.data.text() : "" }; }
    var title = data.title || "Bookpulse";
    event.waitUntil(self.registration.showNotification(title, {
      body: data.body || "",
      tag: data.tag || data.ref || undefined,
      renotify: !!data.tag,
      icon: "/static/icons/icon-192.png",
      badge: "/static/icons/icon-192.png",
      data: { url: sameOrigin(data.url), ref: data.ref || null, kind: data.kind || null },
    }));
  });

  self.addEventListener("notificationclick", function (event) {
    event.notification.close();
    var url = sameOrigin(event.notification.data && event.notification.data.url);
    event.waitUntil(clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        if (list[i].url === url && "focus" in list[i]) return list[i].focus();
      }
      return clients.openWindow ? clients.openWindow(url) : undefined;
    }));
  });
})();

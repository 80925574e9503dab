/*
 * Web push from the PWA: subscribe this device, unsubscribe it, show the state.
 * Needs the service worker (/sw.js, which imports /static/sw-push.js) and a signed-in
 * session. Defines window.BookpulsePush:
 *   BookpulsePush.supported()   -> boolean
 *   BookpulsePush.state()       -> Promise<"unsupported"|"denied"|"subscribed"|"off">
 *   BookpulsePush.subscribe()   -> Promise<PushSubscription> (asks for permission)
 *   BookpulsePush.unsubscribe() -> Promise<void>
 * Any [data-push-toggle] button toggles it; [data-push-status] shows the state.
 */
(function () {
  "use strict";

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  function keyBytes(b64url) {
    var pad = "=".repeat((4 - (b64url.length % 4)) % 4);
    var raw = atob((b64url + pad).replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function api(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (r) {
      if (!r.ok) throw new Error(method + " " + url + " -> " + r.status);
      return r.status === 204 ? null : r.json();
    });
  }

  /** The page's service worker registration, or null (never waits forever, unlike
   *  navigator.serviceWorker.ready when no worker is registered). */
  function registration() {
    return navigator.serviceWorker.getRegistration("/").then(function (reg) {
      return reg && (reg.active || reg.waiting || reg.installing) ? reg : null;
    }).catch(function () { return null; });
  }

  function state() {
    if (!supported()) return Promise.resolve("unsupported");
    if (Notification.permission === "denied") return Promise.resolve("denied");
    return registration().then(function (reg) {
      if (!reg) return "no-worker";
      return reg.pushManager.getSubscription().then(function (sub) {
        return sub ? "subscribed" : "off";
      });
    });
  }

  function subscribe() {
    if (!supported()) return Promise.reject(new Error("push is not supported here"));
    return Notification.requestPermission().then(function (perm) {
      if (perm !== "granted") throw new Error("permission " + perm);
      return Promise.all([registration(), api("GET", "/api/v1/push/vapid-public-key")]);
    }).then(function (both) {
      var reg = both[0], key = both[1].public_key;
      if (!reg) throw new Error("no service worker is registered");
      return reg.pushManager.getSubscription().then(function (existing) {
        return existing || reg.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      });
    }).then(function (sub) {
      return api("POST", "/api/v1/push/subscriptions", sub.toJSON()).then(function () { return sub; });
    });
  }

  function unsubscribe() {
    return registration().then(function (reg) { return reg ? reg.pushManager.getSubscription() : null; })
      .then(function (sub) {
        if (!sub) return null;
        var endpoint = sub.endpoint;
        return sub.unsubscribe().then(function () {
          return api("DELETE", "/api/v1/push/subscriptions?endpoint=" + encodeURIComponent(endpoint));
        });
      });
  }

  var LABELS = { unsupported: "Push notifications are not available in this browser.",
                 denied: "Push notifications are blocked for this site.",
                 "no-worker": "Push notifications are not available until the app's service worker is installed (reload the page).",
                 subscribed: "Push notifications are on for this device.",
                 off: "Push notifications are off for this device." };

  function paint() {
    return state().then(function (s) {
      document.querySelectorAll("[data-push-status]").forEach(function (el) { el.textContent = LABELS[s]; });
      document.querySelectorAll("[data-push-toggle]").forEach(function (btn) {
        btn.hidden = s === "unsupported" || s === "denied" || s === "no-worker";
        btn.textContent = s === "subscribed" ? "Turn off push on this device" : "Enable push notifications on this device";
        btn.setAttribute("data-push-state", s);
      });
    });
  }

  document.addEventListener("click", function (e) {
    var btn = e.target.closest && e.target.closest("[data-push-toggle]");
    if (!btn) return;
    btn.disabled = true;
    var action = btn.getAttribute("data-push-state") === "subscribed" ? unsubscribe : subscribe;
    action().catch(function (err) { console.warn("push:", err); })
      .then(paint).then(function () { btn.disabled = false; });
  });

  window.BookpulsePush = { supported: supported, state: state, subscribe: subscribe,
                           unsubscribe: unsubscribe };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", paint);
  else paint();
})();

/*
 * Analytics page: draws the charts from the JSON the server rendered, toggles each chart's
 * table, keeps today's counters live, and shows export progress.
 *
 * Today's counters: every event of the organization that arrives through the live stream
 * (window.BookpulseLive from /static/js/live.js) triggers a (debounced) refetch of
 * /api/v1/orgs/{org}/analytics/today, which is exact up to the last committed event.
 * Without the live client the page polls every 15 s.
 */
(function () {
  "use strict";

  var root = document.getElementById("analytics");
  if (!root) return;
  var orgId = root.getAttribute("data-org-id");
  var data = JSON.parse(document.getElementById("analytics-data").textContent || "{}");
  var COLORS = ["#3b2fc9", "#0b7a3e", "#b3261e", "#8a5a00", "#5a5a72", "#0077b6", "#c2185b"];

  function label(s) {
    s = String(s).replace(/_/g, " ");
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  function drawCharts() {
    if (!window.Chart) return;
    var trends = data.trends || {};
    var names = Object.keys(trends);
    var labels = names.length ? trends[names[0]].map(function (p) { return p.start; }) : [];
    new window.Chart(document.getElementById("chart-trends"), {
      type: "line",
      data: {
        labels: labels,
        datasets: names.map(function (m, i) {
          return { label: label(m), data: trends[m].map(function (p) { return p.value; }),
                   borderColor: COLORS[i % COLORS.length], backgroundColor: COLORS[i % COLORS.length],
                   tension: 0.2, pointRadius: 0 };
        })
      },
      options: { animation: false, responsive: true, interaction: { mode: "index", intersect: false } }
    });
    var status = data.status || {};
    var keys = Object.keys(status).filter(function (k) { return status[k] > 0; });
    new window.Chart(document.getElementById("chart-status"), {
      type: "doughnut",
      data: { labels: keys.map(label),
              datasets: [{ data: keys.map(function (k) { return status[k]; }),
                           backgroundColor: keys.map(function (_, i) { return COLORS[i % COLORS.length]; }) }] },
      options: { animation: false, responsive: true }
    });
    var offerings = data.offerings || [];
    new window.Chart(document.getElementById("chart-revenue"), {
      type: "bar",
      data: {
        labels: offerings.map(function (o) { return o.name; }),
        datasets: [
          { label: "Gross", data: offerings.map(function (o) { return o.gross / 100; }), backgroundColor: COLORS[0] },
          { label: "Refunds", data: offerings.map(function (o) { return o.refunds / 100; }), backgroundColor: COLORS[2] },
          { label: "Net", data: offerings.map(function (o) { return o.net / 100; }), backgroundColor: COLORS[1] }
        ]
      },
      options: { animation: false, responsive: true, indexAxis: "y" }
    });
    root.setAttribute("data-charts", "drawn");
  }

  function wireToggles() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-table-toggle]"), function (btn) {
      btn.addEventListener("click", function () {
        var table = document.getElementById(btn.getAttribute("data-table-toggle"));
        var open = btn.getAttribute("aria-expanded") === "true";
        table.hidden = open;
        btn.setAttribute("aria-expanded", open ? "false" : "true");
        btn.textContent = open ? "Show as table" : "Hide table";
      });
    });
  }

  var money = new Intl.NumberFormat(undefined, { style: "currency", currency: "EUR" });

  function setCounter(key, text) {
    var el = root.querySelector('[data-today-counter="' + key + '"]');
    if (!el || el.textContent === text) return;
    el.textContent = text;
    el.classList.remove("bumped");
    void el.offsetWidth; // restart the highlight animation
    el.classList.add("bumped");
  }

  var pending = null;
  function refreshToday() {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      fetch("/api/v1/orgs/" + orgId + "/analytics/today", { credentials: "same-origin",
                                                             headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (t) {
          if (!t) return;
          Object.keys(t.counts).forEach(function (k) { setCounter(k, String(t.counts[k])); });
          setCounter("net", money.format(t.net / 100));
          root.setAttribute("data-today-last-event-id", String(t.last_event_id));
        })
        .catch(function () { /* offline for a moment: the next event or poll retries */ });
    }, 250);
  }

  function connectLive() {
    var dot = root.querySelector("[data-analytics-live]");
    if (window.BookpulseLive && window.BookpulseLive.connect) {
      window.BookpulseLive.connect({
        lastEventId: parseInt(root.getAttribute("data-last-event-id") || "0", 10) || undefined,
        applyToDom: false,
        onEvent: function () { refreshToday(); },
        onReset: function () { refreshToday(); },
        onStatus: function (state) { if (dot) dot.setAttribute("data-state", state); }
      });
      setInterval(refreshToday, 60000); // belt and braces: day changes, missed wake-ups
    } else {
      setInterval(refreshToday, 15000);
    }
  }

  function wireExport() {
    var link = document.getElementById("export-bookings");
    var bar = document.getElementById("export-progress");
    var status = document.getElementById("export-status");
    if (!link || !bar) return;
    link.addEventListener("click", function (ev) {
      ev.preventDefault();
      var key = "x" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
      var url = link.getAttribute("data-export-url") + "&progress_key=" + key;
      var frame = document.createElement("iframe");
      frame.hidden = true;
      frame.src = url; // the browser saves the attachment while we poll its progress
      document.body.appendChild(frame);
      bar.hidden = false;
      bar.value = 0;
      status.textContent = "Preparing export…";
      var timer = setInterval(function () {
        fetch("/api/v1/orgs/" + orgId + "/exports/progress/" + key, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (p) {
            if (!p) return;
            bar.max = Math.max(p.total, 1);
            bar.value = p.rows;
            status.textContent = p.done ? "Export ready: " + p.rows + " bookings."
                                        : p.rows + " of " + p.total + " bookings…";
            if (p.done) { clearInterval(timer); setTimeout(function () { frame.remove(); }, 60000); }
          })
          .catch(function () { /* keep polling */ });
      }, 700);
    });
  }

  wireToggles();
  wireExport();
  drawCharts();
  connectLive();
})();

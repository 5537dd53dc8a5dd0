// Live fleet table: applies server-sent device events without a reload.
(function () {
  "use strict";
  var table = document.getElementById("fleet");
  var state = document.getElementById("live-state");
  if (!table || !window.EventSource) { return; }
  // Each row's school's zone (data-zone), as the server renders it.
  function timeFormat(zone) {
    return {day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hour12: false,
            timeZone: zone || "Europe/London"};
  }
  function pill(cls, text) {
    var s = document.createElement("span"); s.className = "pill " + cls; s.textContent = text; return s;
  }
  function setText(el, text) {
    // Only touch the text when it changes, so screen readers are not told the same thing again.
    if (el && el.textContent !== text) { el.textContent = text; }
  }
  function live(value, text) {
    table.setAttribute("data-live", value);
    if (state) { state.hidden = false; state.setAttribute("data-live", value); setText(state, text); }
  }
  function countOnline() {
    var n = table.querySelectorAll('[data-field="status"] .pill.online').length;
    setText(document.getElementById("count-online"), String(n));
  }
  function battery(pct, charging) {
    var wrap = document.createElement("span");
    wrap.className = "battery" + (pct < 20 ? " low" : "");
    var m = document.createElement("meter");
    m.min = 0; m.max = 100; m.low = 20; m.high = 60; m.optimum = 100; m.value = pct;
    m.setAttribute("aria-hidden", "true");
    wrap.appendChild(m);
    wrap.appendChild(document.createTextNode(" " + pct + "%"));
    if (charging) {
      var bolt = document.createElement("span"); bolt.setAttribute("aria-hidden", "true");
      bolt.textContent = " ⚡";
      var said = document.createElement("span"); said.className = "visually-hidden";
      said.textContent = " charging";
      wrap.appendChild(bolt); wrap.appendChild(said);
    }
    return wrap;
  }
  function apply(ev) {
    var row = table.querySelector('tr[data-device="' + ev.device_id + '"]');
    if (!row) { return; }
    var status = row.querySelector('[data-field="status"]');
    var current = status.querySelector(".pill");
    // Lifecycle changes (when the service sends them) take precedence over presence.
    var lifecycle = {retired: ["retired", "Retired"], maintenance: ["maintenance", "Maintenance"]};
    if (ev.lifecycle && lifecycle[ev.lifecycle]) {
      status.replaceChildren(pill(lifecycle[ev.lifecycle][0], lifecycle[ev.lifecycle][1]));
      current = null;
    } else if (ev.lifecycle === "active" && current && current.classList.contains("maintenance")) {
      current = pill("offline", "Offline"); status.replaceChildren(current);
    }
    if (current && !current.classList.contains("retired") && !current.classList.contains("maintenance")) {
      var want = ev.online ? "Online" : "Offline";
      if (current.textContent !== want) {
        status.replaceChildren(pill(ev.online ? "online" : "offline", want));
      }
    }
    if (typeof ev.battery_pct === "number") {
      var b = row.querySelector('[data-field="battery"]');
      var next = battery(ev.battery_pct, ev.charging);
      if (b.textContent !== next.textContent) { b.replaceChildren(next); }
    }
    if (ev.last_seen_at) {
      var cell = row.querySelector('[data-field="last_seen"]');
      var t = cell.querySelector("time");
      t.dateTime = ev.last_seen_at;
      t.textContent = new Date(ev.last_seen_at)
        .toLocaleString("en-GB", timeFormat(cell.dataset.zone)).replace(",", "");
    }
    countOnline();
  }
  var source = new EventSource("/devices/events");
  source.addEventListener("open", function () { live("open", "updates live"); });
  source.addEventListener("error", function () {
    live(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting",
         source.readyState === EventSource.CLOSED ? "live updates stopped: reload the page"
                                                  : "live updates paused, reconnecting…");
  });
  source.addEventListener("device", function (e) { apply(JSON.parse(e.data)); });
})();

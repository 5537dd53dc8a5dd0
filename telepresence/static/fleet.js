// Live fleet table: applies server-sent device events without a reload.
(function () {
  "use strict";
  var table = document.getElementById("fleet");
  if (!table || !window.EventSource) { return; }
  function pill(cls, text) {
    var s = document.createElement("span"); s.className = "pill " + cls; s.textContent = text; return s;
  }
  function countOnline() {
    var n = table.querySelectorAll('[data-field="status"] .pill.online').length;
    var el = document.getElementById("count-online"); if (el) { el.textContent = String(n); }
  }
  function apply(ev) {
    var row = table.querySelector('tr[data-device="' + ev.device_id + '"]');
    if (!row) { return; }
    var status = row.querySelector('[data-field="status"]');
    var current = status.querySelector(".pill");
    if (current && !current.classList.contains("retired") && !current.classList.contains("maintenance")) {
      status.replaceChildren(ev.online ? pill("online", "Online") : pill("offline", "Offline"));
    }
    if (typeof ev.battery_pct === "number") {
      var b = row.querySelector('[data-field="battery"]');
      var wrap = document.createElement("span");
      wrap.className = "battery" + (ev.battery_pct < 20 ? " low" : "");
      var m = document.createElement("meter");
      m.min = 0; m.max = 100; m.low = 20; m.high = 60; m.optimum = 100; m.value = ev.battery_pct;
      wrap.appendChild(m);
      wrap.appendChild(document.createTextNode(" " + ev.battery_pct + "%" + (ev.charging ? " ⚡" : "")));
      b.replaceChildren(wrap);
    }
    if (ev.last_seen_at) {
      var t = row.querySelector('[data-field="last_seen"] time');
      var d = new Date(ev.last_seen_at);
      t.dateTime = ev.last_seen_at;
      t.textContent = d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
    }
    countOnline();
  }
  var source = new EventSource("/devices/events");
  source.addEventListener("device", function (e) { apply(JSON.parse(e.data)); });
})();

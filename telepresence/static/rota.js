// Move rota pages: refresh the list when the school's rota changes; "in 25 min" when near.
(function () {
  "use strict";
  var box = document.getElementById("rota");
  if (!box) { return; }
  var state = document.getElementById("live-state");
  var busy = false;
  var again = false;

  function countdown() {
    // "in 25 min" within the hour before a move is due; further off, only its clock time.
    var now = Date.now();
    box.querySelectorAll(".left[data-due]").forEach(function (el) {
      var minutes = Math.floor((Date.parse(el.getAttribute("data-due")) - now) / 60000);
      var near = minutes >= 0 && minutes <= 60;
      var text = near ? (minutes === 0 ? "now" : "in " + minutes + " min") : "";
      if (el.textContent !== text) { el.textContent = text; }
      el.hidden = !near;
    });
  }

  function typing() {
    // Never swap the list under someone writing why they cannot do a move.
    return box.querySelector("details.cant[open]") !== null;
  }

  function refresh() {
    if (busy || typing()) { again = true; return; }
    busy = true;
    fetch(box.getAttribute("data-refresh"), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("rota-live");
        var current = document.getElementById("rota-live");
        if (fresh && current) { current.replaceWith(document.importNode(fresh, true)); countdown(); }
      })
      .catch(function () { again = true; })
      .then(function () { busy = false; if (again && !typing()) { again = false; refresh(); } });
  }

  function live(value, text) {
    box.setAttribute("data-live", value);
    if (state) { state.hidden = false; state.setAttribute("data-live", value); state.textContent = text; }
  }

  box.addEventListener("toggle", function () { if (again && !typing()) { again = false; refresh(); } }, true);
  setInterval(countdown, 20000);
  countdown();
  if (window.EventSource) {
    var source = new EventSource(box.getAttribute("data-events"));
    source.addEventListener("open", function () { live("open", "Live"); });
    source.addEventListener("error", function () { live("closed", "Reconnecting…"); });
    source.addEventListener("rota", refresh);
  }
})();

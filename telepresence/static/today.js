// Today page: countdowns to each lesson, and Join appears when its window opens.
(function () {
  "use strict";
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown").forEach(function (el) {
      var mins = Math.round((Date.parse(el.dataset.starts) - now) / 60000);
      el.textContent = mins > 60 ? "Starts in " + Math.floor(mins / 60) + " h " + (mins % 60) + " min"
        : mins > 0 ? "Starts in " + mins + " min" : "Started";
    });
    document.querySelectorAll(".join-later").forEach(function (later) {
      if (now < Date.parse(later.dataset.opens)) { return; }
      var a = document.createElement("a");
      a.className = "btn big join"; a.href = later.dataset.href;
      a.textContent = "Join " + later.dataset.subject;
      later.replaceWith(a);
    });
  }
  tick();
  setInterval(tick, 15000);
})();

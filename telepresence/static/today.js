// Today page: countdowns to each lesson, and Join turns on when its window opens.
(function () {
  "use strict";
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown").forEach(function (el) {
      var starts = Date.parse(el.dataset.starts);
      var mins = Math.round((starts - now) / 60000);
      el.textContent = mins > 60 ? "Starts in " + Math.floor(mins / 60) + " h " + (mins % 60) + " min"
        : mins > 0 ? "Starts in " + mins + " min" : "Started";
      var opens = Date.parse(el.dataset.opens);
      var later = el.closest("li").querySelector(".join-later");
      if (later && now >= opens) {
        var a = document.createElement("a");
        a.className = "btn big join"; a.href = later.dataset.href;
        a.textContent = "Join " + el.closest("li").querySelector(".lesson-subject").textContent;
        later.replaceWith(a);
      }
    });
  }
  tick();
  setInterval(tick, 15000);
})();

// A link to a recording's page from a row that has been played carries the moment reached
// (?t=<second>), so "Details" opens the recording where the listener was.
(function () {
  "use strict";

  function withMoment(event) {
    var link = event.target.closest && event.target.closest("a[href]");
    var row = link && link.closest("tr");
    var player = row && row.querySelector("[data-player][data-link]");
    var audio = player && player.querySelector("audio");
    if (!audio || !(audio.currentTime >= 1)) return;
    var url = new URL(link.href, window.location.href);
    if (url.pathname !== new URL(player.getAttribute("data-link"), window.location.href).pathname) return;
    url.searchParams.set("t", String(Math.floor(audio.currentTime)));
    link.href = url.toString();
  }

  // Before the browser reads the address: a click, a middle click, "copy link address", Enter.
  ["click", "auxclick", "contextmenu", "mousedown"].forEach(function (type) {
    document.addEventListener(type, withMoment, true);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter") withMoment(event);
  }, true);
})();

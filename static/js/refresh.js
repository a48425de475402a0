// Pages that show work in progress (a sync, a deletion batch) ask to be shown again every few
// seconds with <meta name="refresh-after" content="SECONDS">. Unlike an http-equiv refresh, it
// waits while someone is typing in the page or has text selected, and stops when they leave the tab.
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="refresh-after"]');
  var seconds = meta && parseFloat(meta.content);
  if (!seconds || seconds <= 0) return;

  function busy() {
    var active = document.activeElement;
    var selection = window.getSelection && String(window.getSelection());
    return document.hidden || (active && active.matches("input, textarea, select")) || Boolean(selection);
  }

  function tick() {
    if (busy()) window.setTimeout(tick, seconds * 1000);
    else window.location.reload();
  }

  window.setTimeout(tick, seconds * 1000);
})();

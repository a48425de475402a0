/*
 * The recordings table while it is open: asks every few seconds how many recordings of its view
 * were stored since it was drawn and would come above its first row, and offers them ("2 new
 * recordings — show") instead of moving the rows under the reader's cursor. Showing them reloads
 * the view from its first page.
 *
 *   [data-new-recordings-url]  the question's URL (the view's filters and sort); data-since the latest
 *                              row id stored, data-first the id of the view's first row (none: it was empty)
 *   [data-new-recordings-show] the link that shows them
 */
(function () {
  "use strict";

  var POLL_MS = 5000;
  var banner = document.querySelector("[data-new-recordings-url]");
  if (!banner || !window.fetch) return;
  var link = banner.querySelector("[data-new-recordings-show]");
  var url = banner.getAttribute("data-new-recordings-url") + "&since=" + encodeURIComponent(banner.getAttribute("data-since")) +
    "&first=" + encodeURIComponent(banner.getAttribute("data-first"));

  var first = new URL(window.location.href);
  first.searchParams.delete("page");
  link.setAttribute("href", first.pathname + first.search);

  function label(count) {
    if (count >= 100) return "More than 99 new recordings — show";
    return count + " new recording" + (count === 1 ? "" : "s") + " — show";
  }

  function ask() {
    if (document.hidden) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (answer) {
        if (!answer.count) return;
        link.textContent = label(answer.count);
        banner.hidden = false;
      })
      .catch(function () { /* the next poll asks again */ });
  }

  window.setInterval(ask, POLL_MS);
  document.addEventListener("visibilitychange", ask);
})();

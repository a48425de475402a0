// Tells the dashboard the browser's time zone, so that pages show times in it. The server says
// whether that changed the zone (not when the user chose one), and only then is the page shown again.
(function () {
  "use strict";

  function report(link) {
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (error) {
      return;
    }
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (!zone || zone === link.dataset.timeZone || !token) return;
    // Once per zone and tab: a zone the server does not know is not sent again on every page.
    var key = "reported-time-zone";
    if (window.sessionStorage.getItem(key) === zone) return;
    window.sessionStorage.setItem(key, zone);
    var body = new URLSearchParams({ time_zone: zone });
    fetch(link.dataset.timeZoneReport, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token.value },
    })
      .then(function (response) {
        return response.ok ? response.json() : { changed: false };
      })
      .then(function (answer) {
        if (answer.changed) window.location.reload();
      })
      .catch(function () {});
  }

  document.addEventListener("DOMContentLoaded", function () {
    var link = document.querySelector("[data-time-zone-report]");
    if (link && link.dataset.timeZoneFollow === "1") report(link);
  });
})();

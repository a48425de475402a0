// On a narrow screen the top bar's links and Sign out fold behind a Menu button. Without this
// script the button stays hidden and the links stay shown.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector("[data-nav-toggle]");
    if (!toggle) return;
    var bar = toggle.closest(".topbar");
    bar.classList.add("has-nav-toggle");
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      bar.classList.toggle("is-open", open);
    });
  });
})();

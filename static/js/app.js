/*
 * Small page behaviours, wired by data-attributes (no inline handlers, CSP friendly).
 *
 *   [data-dismiss]       button inside a .message (or [data-dismissable]) removes it
 *   [data-confirm="…"]   on a <form>, its submit button or a link: asks before going on
 *   [data-select-all="name"]  a checkbox that ticks or unticks every checkbox of that name in its form
 */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    if (!event.target.closest) return;

    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      var box = dismiss.closest(".message, [data-dismissable]");
      if (box) {
        var list = box.parentElement;
        box.remove();
        if (list && list.classList.contains("messages") && !list.children.length) list.remove();
      }
      return;
    }

    var link = event.target.closest("a[data-confirm]");
    if (link && !window.confirm(link.getAttribute("data-confirm"))) event.preventDefault();
  });

  document.addEventListener("change", function (event) {
    var all = event.target.closest && event.target.closest("[data-select-all]");
    if (!all || !all.form) return;
    var boxes = all.form.querySelectorAll('input[type=checkbox][name="' + all.getAttribute("data-select-all") + '"]');
    Array.prototype.forEach.call(boxes, function (box) { box.checked = all.checked; });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);
})();

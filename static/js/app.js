/*
 * Small page behaviours, wired by data-attributes (no inline handlers, CSP friendly).
 *
 *   [data-dismiss]       button inside a .message (or [data-dismissable]) removes it
 *   [data-confirm="…"]   on a <form>, its submit button or a link: asks before going on
 *   [data-select-all="name"]  a checkbox that ticks or unticks every checkbox of that name in its form
 *   [data-count-url]     a summary that shows only "more than N": replaced by the exact count
 *                        from that URL, and so is every [data-view-count] on the page
 *   [data-spared-url]    a dry run's list whose [data-spared] facts say "counting…": replaced by
 *                        the facts that URL answers
 *   a GET form           leaves its empty fields out of the URL it opens (an empty filter is none)
 *
 * And for the other scripts (loaded after this one): dashboard.isTyping(target), true while a key
 * goes to a text field, a select or editable text, where the pages' single-key shortcuts keep out.
 */
(function () {
  "use strict";

  window.dashboard = {
    isTyping: function (target) {
      return Boolean(target && (target.isContentEditable || (target.closest && target.closest("input, textarea, select"))));
    },
  };

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

  var summary = document.querySelector("[data-count-url]");
  if (summary && window.fetch) {
    fetch(summary.getAttribute("data-count-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (figures) {
        summary.innerHTML = figures.html;
        summary.removeAttribute("data-count-url");
        Array.prototype.forEach.call(document.querySelectorAll("[data-view-count]"), function (element) {
          element.textContent = figures.count.toLocaleString("en-US");
        });
      })
      .catch(function () {
        var counting = summary.querySelector("[data-counting]");
        if (counting) counting.textContent = "· the exact count is not available";
      });
  }

  var spared = document.querySelector("[data-spared-url]");
  if (spared && window.fetch) {
    fetch(spared.getAttribute("data-spared-url"), { credentials: "same-origin" })
      .then(function (response) {
        // A redirect followed (an ended session's, to the sign-in page) answers 200 with a page
        // that is not the facts: shown as not counted, never put in the list.
        return response.ok && !response.redirected ? response.text() : Promise.reject(response.status);
      })
      .then(function (html) {
        var counting = spared.querySelectorAll("[data-spared]");
        counting[0].insertAdjacentHTML("beforebegin", html);
        Array.prototype.forEach.call(counting, function (element) { element.remove(); });
        spared.removeAttribute("data-spared-url");
      })
      .catch(function () {
        Array.prototype.forEach.call(spared.querySelectorAll("[data-spared][data-counting]"), function (element) {
          element.textContent = "not counted: look at the page again";
        });
      });
  }

  document.addEventListener("formdata", function (event) {
    if (event.target.method !== "get") return;
    var data = event.formData;
    var kept = [];
    data.forEach(function (value, name) { if (value !== "") kept.push([name, value]); });
    Array.from(new Set(data.keys())).forEach(function (name) { data.delete(name); });
    kept.forEach(function (entry) { data.append(entry[0], entry[1]); });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var message = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);
})();

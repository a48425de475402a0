/*
 * The review queue's keys (templates/recordings/review_item.html), when focus is not in a field:
 *   r  marks the recording reviewed (with the note, if one is written)
 *   f  flags it: with a note written, at once; else the note field opens, and Enter flags
 *   n  the next recording of the sample, p the previous one
 * In the note field Enter saves (flagged if f was pressed, else reviewed), Shift+Enter starts a
 * new line and Escape leaves it. Playing is the player's (k, j, l), notes at moments moments.js's (m).
 */
(function () {
  "use strict";

  var form = document.querySelector("[data-review-form]");
  if (!form) return;
  var note = form.querySelector("[data-review-note]");
  var pending = "reviewed";

  function submit(outcome) {
    var button = form.querySelector('[data-review-outcome="' + outcome + '"]');
    if (form.requestSubmit) form.requestSubmit(button); else button.click();
  }

  function flag() {
    if (note.value.trim()) return submit("flagged");
    pending = "flagged";
    form.querySelector("[data-review-hint]").hidden = false;
    note.focus();
  }

  function follow(selector) {
    var link = form.querySelector(selector);
    if (link) window.location.assign(link.href);
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target === note) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        submit(pending);
      } else if (event.key === "Escape") {
        note.blur();
      }
      return;
    }
    if (dashboard.isTyping(target)) return;
    var actions = { r: function () { submit("reviewed"); }, f: flag, n: function () { follow("[data-review-next]"); }, p: function () { follow("[data-review-previous]"); } };
    if (!actions[event.key]) return;
    event.preventDefault();
    actions[event.key]();
  });
})();

/*
 * Moments of a recording: notes pinned to them, and links that play from them. Wired by data
 * attributes (no inline script or style: the pages' CSP allows neither).
 *
 *   [data-recording]          holds one recording's player, and its notes and speakers' lanes
 *   [data-moment="83.5"]      a link or button that plays the recording from that second
 *   [data-moment-track]       the timeline under the player: a marker per note, the playhead
 *   [data-seek-area]          a click plays from the moment under the pointer (the timeline,
 *                             the speakers' lanes)
 *   [data-playhead]           moved along with the playing position (here and in the lanes)
 *   [data-duration]           the recording's length in ms, for positions before the audio loads
 *   [data-note-list]          the notes, each an element with data-note-at (seconds)
 *   [data-note-form]          adds a note at the moment the player was at when writing began
 *
 * Keyboard (focus not in a form field): m starts a note at the current moment; in the note,
 * Enter saves it, Shift+Enter starts a new line, Escape leaves it.
 * Playing from a moment is asked of the player with a "player:seek" event (static/js/player.js).
 */
(function () {
  "use strict";

  function containerOf(el) {
    return el && el.closest ? el.closest("[data-recording]") : null;
  }

  function playerIn(container) {
    return container ? container.querySelector("[data-player]") : null;
  }

  function audioIn(container) {
    var player = playerIn(container);
    return player ? player.querySelector("audio") : null;
  }

  function durationOf(container) {
    var audio = audioIn(container);
    if (audio && isFinite(audio.duration) && audio.duration > 0) return audio.duration;
    var holder = container.querySelector("[data-duration]");
    var ms = holder ? parseFloat(holder.getAttribute("data-duration")) : NaN;
    return ms > 0 ? ms / 1000 : 0;
  }

  function currentTime(container) {
    var audio = audioIn(container);
    return audio ? audio.currentTime || 0 : 0;
  }

  function formatTime(seconds, tenths) {
    var whole = Math.floor(seconds);
    var m = Math.floor(whole / 60);
    var s = whole % 60;
    var text = m + ":" + (s < 10 ? "0" : "") + s;
    return tenths ? text + "." + Math.floor((seconds - whole) * 10) : text;
  }

  function playFrom(container, seconds) {
    var player = playerIn(container);
    if (!player) return;
    player.dispatchEvent(new CustomEvent("player:seek", { bubbles: true, detail: { seconds: seconds } }));
  }

  function percent(seconds, total) {
    return Math.max(0, Math.min(100, (seconds / total) * 100)) + "%";
  }

  /* ---------- the timeline under the player ---------- */

  function drawMarkers(container) {
    var bar = container.querySelector("[data-moment-track-bar]");
    var list = container.querySelector("[data-note-list]");
    if (!bar || !list) return;
    var total = durationOf(container);
    bar.textContent = "";
    var notes = list.querySelectorAll("[data-note-at]");
    container.querySelector("[data-moment-track]").hidden = !(total > 0);
    if (!(total > 0)) return;
    Array.prototype.forEach.call(notes, function (note) {
      var at = parseFloat(note.getAttribute("data-note-at"));
      var text = note.querySelector(".note-text");
      var marker = document.createElement("button");
      marker.type = "button";
      marker.className = "moment-marker";
      marker.setAttribute("data-moment", String(at));
      marker.title = formatTime(at) + " " + (text ? text.textContent : "");
      marker.setAttribute("aria-label", "Note at " + marker.title);
      marker.style.left = percent(at, total); // CSSOM, which the CSP allows (unlike style attributes)
      bar.appendChild(marker);
    });
  }

  function movePlayheads(container, seconds) {
    var total = durationOf(container);
    if (!(total > 0)) return;
    Array.prototype.forEach.call(container.querySelectorAll("[data-playhead]"), function (head) {
      head.style.left = percent(seconds, total);
    });
  }

  /* ---------- notes ---------- */

  function pin(form) {
    var container = containerOf(form);
    var at = form.querySelector("[data-note-at]");
    if (at) at.value = formatTime(currentTime(container), true);
  }

  function showError(form, text) {
    var box = form.querySelector("[data-note-error]");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  function insertNote(container, html, at) {
    var list = container.querySelector("[data-note-list]");
    var holder = document.createElement("ol");
    holder.innerHTML = html; // the server's own template, escaped there
    var item = holder.firstElementChild;
    var later = Array.prototype.find.call(list.children, function (other) {
      return parseFloat(other.getAttribute("data-note-at")) > at;
    });
    list.insertBefore(item, later || null);
    var count = container.querySelector(".notes-heading .muted");
    if (count) count.textContent = "(" + list.children.length + ")";
    drawMarkers(container);
  }

  function save(form) {
    var container = containerOf(form);
    var text = form.querySelector("[data-note-text]");
    if (!window.fetch) return form.submit();
    showError(form, "");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (result) {
        if (!result.ok) return showError(form, result.body.error || "The note was not saved.");
        insertNote(container, result.body.html, result.body.at);
        text.value = "";
        text.blur();
      })
      .catch(function () { showError(form, "The note was not saved: the dashboard could not be reached."); });
  }

  /* ---------- wiring ---------- */

  document.addEventListener("click", function (event) {
    if (!event.target.closest) return;
    var moment = event.target.closest("[data-moment]");
    var container = containerOf(event.target);
    if (moment && container && playerIn(container)) {
      event.preventDefault();
      playFrom(container, parseFloat(moment.getAttribute("data-moment")) || 0);
      return;
    }
    var bar = event.target.closest("[data-seek-area]");
    if (bar && container) {
      var box = bar.getBoundingClientRect();
      playFrom(container, ((event.clientX - box.left) / box.width) * durationOf(container));
    }
  });

  document.addEventListener("focusin", function (event) {
    var text = event.target.closest && event.target.closest("[data-note-text]");
    if (text && !text.value) pin(text.form);
  });

  document.addEventListener("submit", function (event) {
    var form = event.target.closest && event.target.closest("[data-note-form]");
    if (!form) return;
    event.preventDefault();
    save(form);
  });

  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var text = target.closest && target.closest("[data-note-text]");
    if (text) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        if (text.value.trim()) save(text.form);
      } else if (event.key === "Escape") {
        text.blur();
      }
      return;
    }
    if (event.key !== "m" || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (dashboard.isTyping(target)) return;
    var playing = Array.prototype.find.call(document.querySelectorAll("[data-recording] audio"), function (audio) {
      return !audio.paused;
    });
    var container = playing ? containerOf(playing) : document.querySelector("[data-recording]");
    var field = container && container.querySelector("[data-note-text]");
    if (!field) return;
    event.preventDefault();
    field.focus();
  });

  ["timeupdate", "seeked"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var container = containerOf(event.target);
      if (container && event.target.tagName === "AUDIO") movePlayheads(container, event.target.currentTime);
    }, true);
  });

  document.addEventListener("durationchange", function (event) {
    var container = containerOf(event.target);
    if (container && event.target.tagName === "AUDIO") drawMarkers(container);
  }, true);

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-recording]"), drawMarkers);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

/*
 * The keyboard on the dashboard's pages, and the playing row.
 *
 *   /        focuses the search box (input[name=q])
 *   n, p     the next or previous page ([rel=next], [rel=prev] in the pagination)
 *   [data-row-keys] a table whose rows are one Tab stop each: Up and Down (or Home and End) move
 *            between rows, Left and Right between the focused row's links and buttons, Escape
 *            back to the row; Enter on a row opens its recording's page.
 *   A row whose player is playing carries .is-playing (and says so to screen readers).
 */
(function () {
  "use strict";

  var FOCUSABLE = "a[href], button, input, select, textarea, audio[controls], [tabindex]";

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || dashboard.isTyping(event.target)) return;
    if (event.key === "/") {
      var search = document.querySelector("input[name=q]");
      if (!search) return;
      event.preventDefault();
      search.focus();
      search.select();
    } else if (event.key === "n" || event.key === "p") {
      var page = document.querySelector(".pagination a[rel=" + (event.key === "n" ? "next" : "prev") + "]");
      if (page) page.click();
    }
  });

  // ---------- one Tab stop per row ----------

  function controls(row) {
    return Array.prototype.filter.call(row.querySelectorAll(FOCUSABLE), function (element) {
      return element !== row && !element.disabled && element.type !== "hidden" && element.getClientRects().length;
    });
  }

  function rowsOf(table) {
    return Array.prototype.slice.call(table.tBodies[0] ? table.tBodies[0].rows : []).filter(function (row) {
      return !row.classList.contains("empty-row");
    });
  }

  // Everything inside a row leaves the Tab order; the current row is the one stop.
  function settle(table, current) {
    rowsOf(table).forEach(function (row) {
      row.tabIndex = row === current ? 0 : -1;
      controls(row).forEach(function (element) { element.tabIndex = -1; });
    });
  }

  function moveTo(table, row) {
    if (!row) return;
    settle(table, row);
    row.focus();
  }

  // The link to the row's recording page (the one its player names), if the row has one.
  function detailsLink(row) {
    var player = row.querySelector("[data-player][data-link]");
    if (!player) return null;
    var page = new URL(player.getAttribute("data-link"), window.location.href).pathname;
    return Array.prototype.filter.call(row.querySelectorAll("a[href]"), function (link) {
      return new URL(link.href, window.location.href).pathname === page;
    })[0] || null;
  }

  function wire(table) {
    var rows = rowsOf(table);
    if (!rows.length) return;
    rows.forEach(function (row) {
      row.setAttribute("aria-keyshortcuts", "ArrowUp ArrowDown ArrowLeft ArrowRight");
    });
    settle(table, rows[0]);

    table.addEventListener("focusin", function (event) {
      var row = event.target.closest("tr");
      if (row && row.tabIndex !== 0 && rowsOf(table).indexOf(row) >= 0) settle(table, row);
    });

    table.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      var row = event.target.closest("tr");
      var all = rowsOf(table);
      var index = all.indexOf(row);
      if (index < 0) return;
      var onRow = event.target === row;
      var inside = controls(row);
      var at = inside.indexOf(event.target);
      var key = event.key;
      if (key === "ArrowDown" || key === "ArrowUp") {
        if (!onRow && event.target.matches("input[type=range], select")) return;
        event.preventDefault();
        moveTo(table, all[index + (key === "ArrowDown" ? 1 : -1)]);
      } else if (key === "Home" && onRow) {
        event.preventDefault();
        moveTo(table, all[0]);
      } else if (key === "End" && onRow) {
        event.preventDefault();
        moveTo(table, all[all.length - 1]);
      } else if (key === "ArrowRight" || key === "ArrowLeft") {
        if (!onRow && event.target.matches("input[type=range], input[type=text], input[type=search]")) return;
        event.preventDefault();
        var next = onRow ? (key === "ArrowRight" ? 0 : inside.length - 1) : at + (key === "ArrowRight" ? 1 : -1);
        if (next >= 0 && next < inside.length) inside[next].focus();
        else row.focus();
      } else if (key === "Escape" && !onRow) {
        event.preventDefault();
        row.focus();
      } else if (key === "Enter" && onRow) {
        var link = detailsLink(row) || row.querySelector("a[href]");
        if (link) {
          event.preventDefault();
          link.click();
        }
      }
    });

    // Controls a player adds to a row on first use leave the Tab order too.
    new MutationObserver(function () {
      var current = rowsOf(table).filter(function (row) { return row.tabIndex === 0; })[0];
      settle(table, current || rowsOf(table)[0]);
    }).observe(table.tBodies[0], { childList: true, subtree: true });
  }

  // ---------- the playing row ----------

  function markPlaying(event) {
    var row = event.target.closest && event.target.closest("tr");
    if (!row) return;
    var playing = event.type === "play" || event.type === "playing";
    row.classList.toggle("is-playing", playing);
    if (playing) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }

  ["play", "pause", "ended", "emptied"].forEach(function (type) {
    document.addEventListener(type, markPlaying, true); // media events do not bubble: captured
  });

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("table[data-row-keys]"), wire);
  });
})();

/*
 * Recording players (templates/recordings/_player.html).
 *
 * Plain JavaScript, no libraries, no build step, no inline handlers: everything is wired by
 * event delegation on the document from the data-player* attributes, so a page with several
 * hundred players costs a handful of listeners.
 *
 * A player starts as a play button showing the stored duration; pressing it (or k / space)
 * builds the player from the page's one <template id="player-template"> and plays. Until then no
 * audio is fetched, so the listening log holds only real listening.
 *
 *   [data-player]               wrapper: data-audio (the audio's URL), data-link (the recording's
 *                               page), optional data-start="83" (seconds)
 *   [data-player-play]          builds the player and plays
 *   [data-player-seek="-10"]    seek by that many seconds
 *   [data-player-speed]         cycles 1× → 1.25× → 1.5× → 1.75× → 2× (remembered in localStorage)
 *   [data-player-channel]       <select> both | caller (left channel) | callee (right channel)
 *   [data-player-copy]          copies "<the recording's page>?t=<current second>" (the wrapper's
 *                               data-link, or this page without it), and says "Copied"
 *   [data-player-goto]          a moment typed as "83", "1:23" or "1:02:03": Enter goes there
 *   [data-player-retry]         reloads after an error
 *
 * A "player:seek" event (detail.seconds) dispatched on a player plays it from that second.
 *
 * Keyboard (focus not in a form field): k / space play-pause the player of the focused table row,
 * else the last used one; j / l go back / forward 10 seconds.
 */
(function () {
  "use strict";

  var SPEEDS = [1, 1.25, 1.5, 1.75, 2];
  var SPEED_KEY = "vobiz.recordings.playbackRate";
  var SEEK_STEP = 10;

  var currentSpeed = 1;
  var lastPlayer = null;
  var audioCtx = null;
  var graphs = typeof WeakMap === "function" ? new WeakMap() : null;
  var feedbackTimers = typeof WeakMap === "function" ? new WeakMap() : null;

  function playerOf(el) {
    return el && el.closest ? el.closest("[data-player]") : null;
  }

  function audioOf(player) {
    return player ? player.querySelector("audio") : null;
  }

  // The player's controls, from the page's template, in place of its play button.
  function build(player) {
    var audio = audioOf(player);
    if (audio) return audio;
    var template = document.getElementById("player-template");
    var slot = player.querySelector("[data-player-slot]");
    if (!template || !slot) return null;
    var parts = template.content.cloneNode(true);
    var other = player.classList.contains("player-compact") ? "[data-player-full]" : "[data-player-compact]";
    Array.prototype.forEach.call(parts.querySelectorAll(other), function (el) { el.remove(); });
    var src = player.getAttribute("data-audio");
    audio = parts.querySelector("audio");
    var button = slot.querySelector("[data-player-play]");
    var name = button && button.getAttribute("aria-label"); // "Play recording <id>"
    audio.setAttribute("aria-label", name ? name.replace(/^Play r/, "R") : "Recording");
    parts.querySelector("[data-player-download]").setAttribute("href", src + "?download=1");
    var start = parseFloat(player.getAttribute("data-start"));
    audio.src = start > 0 ? src + "#t=" + start : src;
    setRate(audio, currentSpeed);
    var speed = parts.querySelector("[data-player-speed]");
    if (speed) {
      speed.textContent = formatRate(currentSpeed);
      speed.setAttribute("aria-label", "Playback speed " + formatRate(currentSpeed) + " (click to change)");
    }
    if (start > 0) seekOnceLoaded(player, audio, start);
    slot.replaceWith(parts);
    return audio;
  }

  function play(player) {
    var audio = build(player);
    if (!audio) return;
    var p = audio.play();
    if (p && p.catch) p.catch(function () { /* shown by the error handler */ });
  }

  function isMedia(el) {
    return el instanceof HTMLMediaElement;
  }

  function formatTime(seconds) {
    var s = Math.max(0, Math.floor(seconds || 0));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + pad(m) + ":" + pad(sec) : m + ":" + pad(sec);
  }

  function formatRate(rate) {
    return rate + "\u00d7";
  }

  /* ---------- status text ---------- */

  function setStatus(player, text) {
    var el = player.querySelector("[data-player-status]");
    if (el) el.textContent = text || "";
  }

  // A short word after an action ("Copied"). A compact player has no status line: the copy's
  // outcome (`copied`: true or false) also shows on its Link button, as "Copied" or "Not copied".
  function flash(player, text, copied) {
    var el = player.querySelector("[data-player-feedback]");
    if (!el) return;
    var label = copied !== undefined && player.classList.contains("player-compact")
      ? player.querySelector("[data-player-copy-label]")
      : null;
    el.textContent = text;
    if (label) label.textContent = copied ? "Copied" : "Not copied";
    if (feedbackTimers) {
      clearTimeout(feedbackTimers.get(el));
      feedbackTimers.set(el, setTimeout(function () {
        el.textContent = "";
        if (label) label.textContent = "Link";
      }, 2500));
    }
  }

  /* ---------- speed ---------- */

  function readSpeed() {
    try {
      var v = parseFloat(window.localStorage.getItem(SPEED_KEY));
      if (SPEEDS.indexOf(v) !== -1) return v;
    } catch (e) { /* storage blocked */ }
    return 1;
  }

  function saveSpeed(v) {
    try { window.localStorage.setItem(SPEED_KEY, String(v)); } catch (e) { /* storage blocked */ }
  }

  function setRate(audio, rate) {
    // defaultPlaybackRate survives the media load algorithm, which resets playbackRate.
    audio.defaultPlaybackRate = rate;
    audio.playbackRate = rate;
    if ("preservesPitch" in audio) audio.preservesPitch = true;
    audio.setAttribute("data-rate", String(rate));
  }

  function applySpeedEverywhere(rate) {
    currentSpeed = rate;
    var players = document.querySelectorAll("[data-player]");
    for (var i = 0; i < players.length; i++) {
      var audio = audioOf(players[i]);
      if (audio) setRate(audio, rate);
      var button = players[i].querySelector("[data-player-speed]");
      if (button) {
        button.textContent = formatRate(rate);
        button.setAttribute("aria-label", "Playback speed " + formatRate(rate) + " (click to change)");
      }
    }
  }

  function cycleSpeed(backwards) {
    var i = SPEEDS.indexOf(currentSpeed);
    if (i === -1) i = 0;
    i = (i + (backwards ? SPEEDS.length - 1 : 1)) % SPEEDS.length;
    saveSpeed(SPEEDS[i]);
    applySpeedEverywhere(SPEEDS[i]);
  }

  /* ---------- seeking ---------- */

  function seekBy(player, delta) {
    var audio = audioOf(player);
    if (!audio) return;
    var target = (audio.currentTime || 0) + delta;
    if (isFinite(audio.duration)) target = Math.min(target, audio.duration);
    audio.currentTime = Math.max(0, target);
  }

  function toggle(player) {
    var audio = audioOf(player);
    if (!audio || audio.paused) {
      play(player);
    } else {
      audio.pause();
    }
  }

  /* ---------- channels (Web Audio) ---------- */

  // Caller = left channel, callee = right channel. Gains: [L→L, L→R, R→L, R→R].
  var CHANNEL_GAINS = {
    both: [1, 0, 0, 1],
    caller: [1, 1, 0, 0],
    callee: [0, 0, 1, 1]
  };

  function ensureGraph(audio) {
    var graph = graphs.get(audio);
    if (graph) return graph;
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) throw new Error("Web Audio is not available");
    if (!audioCtx) audioCtx = new Ctx();
    var source = audioCtx.createMediaElementSource(audio);
    var splitter = audioCtx.createChannelSplitter(2);
    var merger = audioCtx.createChannelMerger(2);
    source.connect(splitter);
    var gains = [];
    var routes = [[0, 0], [0, 1], [1, 0], [1, 1]]; // [from splitter output, to merger input]
    for (var i = 0; i < routes.length; i++) {
      var gain = audioCtx.createGain();
      splitter.connect(gain, routes[i][0]);
      gain.connect(merger, 0, routes[i][1]);
      gains.push(gain);
    }
    merger.connect(audioCtx.destination);
    graph = { gains: gains };
    graphs.set(audio, graph);
    return graph;
  }

  function setChannel(player, mode, select) {
    var audio = audioOf(player);
    if (!audio || !CHANNEL_GAINS[mode]) return;
    player.setAttribute("data-channel", mode);
    // "Both" on an untouched player needs no processing at all.
    if (mode === "both" && !(graphs && graphs.get(audio))) return;
    var graph;
    try {
      if (!graphs) throw new Error("WeakMap missing");
      graph = ensureGraph(audio);
    } catch (e) {
      if (select) select.value = "both";
      player.setAttribute("data-channel", "both");
      setStatus(player, "This browser cannot play one side of the call on its own.");
      return;
    }
    var values = CHANNEL_GAINS[mode];
    for (var i = 0; i < 4; i++) graph.gains[i].gain.value = values[i];
    if (audioCtx.state === "suspended") audioCtx.resume();
  }

  /* ---------- a typed moment ---------- */

  // As recordings.formatting.moment_ms reads one: "83", "83.5", "1:23" or "1:02:03".
  var MOMENT = /^(?:(?:(\d{1,3}):)?(\d{1,4}):)?(\d{1,6})(?:\.\d*)?$/;

  function momentSeconds(text) {
    var match = MOMENT.exec(text.trim());
    if (!match) return null;
    return (parseInt(match[1] || "0", 10) * 3600) + (parseInt(match[2] || "0", 10) * 60) + parseInt(match[3], 10);
  }

  function goTo(player, input) {
    var seconds = momentSeconds(input.value);
    var audio = audioOf(player);
    if (seconds === null || !audio) {
      input.setAttribute("aria-invalid", "true");
      flash(player, "Type a moment as 83, 1:23 or 1:02:03");
      return;
    }
    input.removeAttribute("aria-invalid");
    if (isFinite(audio.duration)) seconds = Math.min(seconds, audio.duration);
    audio.currentTime = seconds;
    flash(player, "At " + formatTime(seconds));
  }

  /* ---------- copy link ---------- */

  function linkAt(player, seconds) {
    var url = new URL(player.getAttribute("data-link") || window.location.href, window.location.href);
    url.hash = "";
    url.searchParams.delete("t");
    url.searchParams.set("t", String(seconds));
    return url.toString();
  }

  function copyLink(player) {
    var audio = audioOf(player);
    var url = linkAt(player, Math.floor(audio ? audio.currentTime || 0 : 0));
    var input = player.querySelector("[data-player-copy-input]");
    if (input) input.value = url;

    function fallback() {
      var ok = false;
      if (input) {
        input.hidden = false;
        input.focus();
        input.select();
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      }
      flash(player, ok ? "Copied" : "Press Ctrl+C to copy", ok);
    }

    if (navigator.clipboard && navigator.clipboard.writeText && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(function () {
        if (input) input.hidden = true;
        flash(player, "Copied", true);
      }, fallback);
    } else {
      fallback();
    }
  }

  /* ---------- errors ---------- */

  function showError(player) {
    player.classList.add("is-error");
    var box = player.querySelector("[data-player-error]");
    if (box) box.hidden = false;
    setStatus(player, "");
  }

  function retry(player) {
    var audio = audioOf(player);
    player.classList.remove("is-error");
    var box = player.querySelector("[data-player-error]");
    if (box) box.hidden = true;
    if (!audio) return;
    audio.load();
    setRate(audio, currentSpeed);
    var p = audio.play();
    if (p && p.catch) p.catch(function () {});
  }

  /* ---------- start position (?t=83) ---------- */

  // The page says where playback will start; the audio is only fetched once play is pressed.
  function announceStart(player) {
    var start = parseFloat(player.getAttribute("data-start"));
    if (!(start > 0)) return;
    if (!lastPlayer) lastPlayer = player;
    player.setAttribute("data-waiting-start", "");
    setStatus(player, "Starts at " + formatTime(start));
  }

  // The #t= fragment starts playback there; browsers that ignore it are moved once it loads.
  function seekOnceLoaded(player, audio, start) {
    audio.addEventListener("loadedmetadata", function () {
      var target = start;
      if (isFinite(audio.duration)) target = Math.min(start, Math.max(0, audio.duration - 0.25));
      if (Math.abs(audio.currentTime - target) > 0.5) audio.currentTime = target;
    }, { once: true });
  }

  /* ---------- event wiring ---------- */

  // Only one recording plays at a time; remember which player was used last.
  document.addEventListener("play", function (event) {
    var audio = event.target;
    if (!isMedia(audio)) return;
    var others = document.querySelectorAll("audio, video");
    for (var i = 0; i < others.length; i++) {
      if (others[i] !== audio && !others[i].paused) others[i].pause();
    }
    if (!audio.hasAttribute("data-rate")) setRate(audio, currentSpeed);
    if (audioCtx && audioCtx.state === "suspended") audioCtx.resume();
    var player = playerOf(audio);
    if (player) {
      lastPlayer = player;
      if (player.hasAttribute("data-waiting-start")) {
        player.removeAttribute("data-waiting-start");
        setStatus(player, "");
      }
    }
  }, true);

  document.addEventListener("error", function (event) {
    var audio = event.target;
    if (!isMedia(audio)) return;
    if (audio.error && audio.error.code === 1) return; // MEDIA_ERR_ABORTED: the user stopped it
    var player = playerOf(audio);
    if (player) showError(player);
  }, true);

  document.addEventListener("click", function (event) {
    var control = event.target.closest && event.target.closest(
      "[data-player-play], [data-player-seek], [data-player-speed], [data-player-copy], [data-player-retry]"
    );
    if (!control) return;
    var player = playerOf(control);
    if (!player) return;
    lastPlayer = player;
    if (control.hasAttribute("data-player-play")) {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button) return; // opening the link elsewhere
      event.preventDefault();
      play(player);
      var audio = audioOf(player);
      if (audio) audio.focus();
    } else if (control.hasAttribute("data-player-seek")) {
      seekBy(player, parseFloat(control.getAttribute("data-player-seek")) || 0);
    } else if (control.hasAttribute("data-player-speed")) {
      cycleSpeed(event.shiftKey);
    } else if (control.hasAttribute("data-player-copy")) {
      copyLink(player);
    } else if (control.hasAttribute("data-player-retry")) {
      retry(player);
    }
  });

  // Other scripts (notes at moments, the speakers' lanes) ask a player to play from a moment.
  document.addEventListener("player:seek", function (event) {
    var player = playerOf(event.target);
    if (!player || !(event.detail && event.detail.seconds >= 0)) return;
    var audio = build(player);
    if (!audio) return;
    lastPlayer = player;
    audio.currentTime = event.detail.seconds;
    if (audio.paused) play(player);
  });

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("[data-player-channel]")) return;
    var player = playerOf(select);
    if (!player) return;
    lastPlayer = player;
    setChannel(player, select.value, select);
  });

  document.addEventListener("keydown", function (event) {
    var goto = event.target.closest && event.target.closest("[data-player-goto]");
    if (goto && event.key === "Enter" && !event.defaultPrevented) {
      event.preventDefault();
      goTo(playerOf(goto), goto);
      return;
    }
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (dashboard.isTyping(event.target)) return;
    var tag = event.target.tagName;
    var key = event.key;
    // A table row in focus (or a control in it) is the one acted on, not the player last used.
    var row = event.target.closest && event.target.closest("tr");
    var player = (row && row.querySelector("[data-player]")) || (lastPlayer && document.contains(lastPlayer) ? lastPlayer : null);

    if (key === " " || key === "Spacebar") {
      // Space keeps its usual meaning on controls, links and before any player was used.
      if (!player || event.repeat || tag === "BUTTON" || tag === "A" || tag === "AUDIO" || tag === "VIDEO" || tag === "SUMMARY") return;
      event.preventDefault();
      toggle(player);
      return;
    }
    if (key !== "k" && key !== "j" && key !== "l") return;
    if (!player) player = document.querySelector("[data-player]");
    if (!player) return;
    lastPlayer = player;
    event.preventDefault();
    if (key === "k") {
      if (!event.repeat) toggle(player);
    } else {
      seekBy(player, key === "j" ? -SEEK_STEP : SEEK_STEP);
    }
  });

  /* ---------- start ---------- */

  function init() {
    applySpeedEverywhere(readSpeed());
    var starters = document.querySelectorAll("[data-player][data-start]");
    for (var i = 0; i < starters.length; i++) announceStart(starters[i]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

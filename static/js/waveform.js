/*
 * Both speakers at a glance (templates/recordings/_speakers.html): a lane per channel of the
 * recording, drawn from its decoded audio with Web Audio, the caller on the left channel and the
 * callee on the right. Moments when both speak at once and long silences are marked; a mark, or
 * a point of a lane, plays from there (static/js/moments.js). A mono recording gets one lane.
 *
 * The audio is fetched through the recording's (logged) audio URL only when the recording is
 * played or [data-speakers-show] is pressed: never when the page loads.
 */
(function () {
  "use strict";

  var SAMPLE_RATE = 8000; // decoded at telephone quality: enough for levels, light on memory
  var WINDOW_SECONDS = 0.02; // one level per 20 ms
  var HANGOVER_SECONDS = 0.25; // a pause between words shorter than this still counts as speaking
  var MIN_OVERLAP_SECONDS = 0.3;
  var LONG_SILENCE_SECONDS = 3;

  function formatTime(seconds) {
    var whole = Math.floor(seconds);
    var s = whole % 60;
    return Math.floor(whole / 60) + ":" + (s < 10 ? "0" : "") + s;
  }

  function setStatus(box, text) {
    box.querySelector("[data-speakers-status]").textContent = text;
  }

  /* ---------- analysis ---------- */

  // The RMS level of each window of a channel.
  function levels(samples, windowSize) {
    var count = Math.ceil(samples.length / windowSize);
    var out = new Float32Array(count);
    for (var w = 0; w < count; w++) {
      var sum = 0;
      var end = Math.min(samples.length, (w + 1) * windowSize);
      for (var i = w * windowSize; i < end; i++) sum += samples[i] * samples[i];
      out[w] = Math.sqrt(sum / Math.max(1, end - w * windowSize));
    }
    return out;
  }

  function quantile(values, q) {
    var sorted = Array.prototype.slice.call(values).sort(function (a, b) { return a - b; });
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0;
  }

  // Which windows hold speech: well above the channel's own floor, with short pauses bridged.
  function speaking(level) {
    var floor = quantile(level, 0.1);
    var loud = quantile(level, 0.95);
    var threshold = Math.max(0.003, floor + 0.12 * (loud - floor));
    var bridge = Math.round(HANGOVER_SECONDS / WINDOW_SECONDS);
    var out = new Uint8Array(level.length);
    var last = -Infinity; // the last window with speech
    for (var w = 0; w < level.length; w++) {
      if (level[w] <= threshold) continue;
      if (w - last - 1 <= bridge) for (var gap = last + 1; gap < w; gap++) out[gap] = 1;
      out[w] = 1;
      last = w;
    }
    return out;
  }

  // Runs of windows where test(w) holds, at least minSeconds long, as [start, end] seconds.
  function runs(count, test, minSeconds) {
    var found = [];
    var start = -1;
    for (var w = 0; w <= count; w++) {
      if (w < count && test(w)) {
        if (start < 0) start = w;
      } else if (start >= 0) {
        if ((w - start) * WINDOW_SECONDS >= minSeconds) found.push([start * WINDOW_SECONDS, w * WINDOW_SECONDS]);
        start = -1;
      }
    }
    return found;
  }

  function sameSound(a, b) {
    var step = Math.max(1, Math.floor(a.length / 20000));
    for (var i = 0; i < a.length; i += step) if (Math.abs(a[i] - b[i]) > 1e-3) return false;
    return true;
  }

  function analyse(buffer) {
    var windowSize = Math.max(1, Math.round(buffer.sampleRate * WINDOW_SECONDS));
    var channels = [buffer.getChannelData(0)];
    var mono = buffer.numberOfChannels < 2;
    if (!mono) {
      var right = buffer.getChannelData(1);
      mono = sameSound(channels[0], right);
      if (!mono) channels.push(right);
    }
    var level = channels.map(function (samples) { return levels(samples, windowSize); });
    var talk = level.map(speaking);
    var count = level[0].length;
    return {
      duration: buffer.duration,
      channels: buffer.numberOfChannels,
      level: level,
      overlaps: talk.length < 2 ? [] : runs(count, function (w) { return talk[0][w] && talk[1][w]; }, MIN_OVERLAP_SECONDS),
      silences: runs(count, function (w) {
        return talk.every(function (t) { return !t[w]; });
      }, LONG_SILENCE_SECONDS)
    };
  }

  /* ---------- drawing ---------- */

  function drawLane(canvas, level) {
    var ratio = window.devicePixelRatio || 1;
    var width = Math.max(1, Math.round(canvas.clientWidth * ratio));
    var height = Math.max(1, Math.round(canvas.clientHeight * ratio));
    canvas.width = width;
    canvas.height = height;
    var context = canvas.getContext("2d");
    context.clearRect(0, 0, width, height);
    context.fillStyle = window.getComputedStyle(canvas).color;
    var peak = Math.max(quantile(level, 0.99), 1e-6);
    var middle = height / 2;
    for (var x = 0; x < width; x++) {
      var from = Math.floor((x / width) * level.length);
      var to = Math.max(from + 1, Math.floor(((x + 1) / width) * level.length));
      var top = 0;
      for (var w = from; w < to && w < level.length; w++) top = Math.max(top, level[w]);
      var half = Math.min(1, top / peak) * (middle - 1);
      if (half >= 0.5) context.fillRect(x, middle - half, 1, half * 2);
    }
  }

  function mark(box, kind, span, duration, label) {
    var text = label + " at " + formatTime(span[0]) + " (" + (span[1] - span[0]).toFixed(1) + " s)";
    var band = document.createElement("button");
    band.type = "button";
    band.className = "lane-mark lane-mark-" + kind;
    band.setAttribute("data-moment", span[0].toFixed(3));
    band.title = text;
    band.setAttribute("aria-label", text);
    band.tabIndex = -1; // the list below offers the same moments to the keyboard
    // CSSOM, which the CSP allows (unlike style attributes)
    band.style.left = (span[0] / duration) * 100 + "%";
    band.style.width = Math.max(0.3, ((span[1] - span[0]) / duration) * 100) + "%";
    box.querySelector("[data-lane-marks]").appendChild(band);

    var item = document.createElement("li");
    var link = document.createElement("button");
    link.type = "button";
    link.className = "linklike speaker-moment speaker-moment-" + kind;
    link.setAttribute("data-moment", span[0].toFixed(3));
    link.textContent = text;
    item.appendChild(link);
    box.querySelector("[data-speaker-moments]").appendChild(item);
  }

  function show(box, found) {
    var lanes = box.querySelector("[data-lanes]");
    var laneBoxes = lanes.querySelectorAll("[data-lane]");
    lanes.hidden = false;
    lanes.classList.toggle("is-mono", found.level.length < 2);
    if (found.level.length < 2) {
      laneBoxes[1].hidden = true;
      laneBoxes[0].querySelector("[data-lane-label]").textContent = "Both speakers";
    }
    function draw() {
      found.level.forEach(function (level, i) { drawLane(laneBoxes[i].querySelector("canvas"), level); });
    }
    draw();
    window.addEventListener("resize", draw);
    box.querySelector("[data-lane-marks]").textContent = "";
    box.querySelector("[data-speaker-moments]").textContent = "";
    found.overlaps.forEach(function (span) { mark(box, "overlap", span, found.duration, "Both speak"); });
    found.silences.forEach(function (span) { mark(box, "silence", span, found.duration, "Silence"); });
    var summary = [];
    if (found.level.length < 2) {
      summary.push(found.channels < 2
        ? "Mono recording: one channel holds both speakers, so they cannot be told apart."
        : "Both channels carry the same sound: the speakers cannot be told apart.");
    }
    if (found.level.length > 1) summary.push(found.overlaps.length + " moment" + (found.overlaps.length === 1 ? "" : "s") + " both speak at once");
    summary.push(found.silences.length + " silence" + (found.silences.length === 1 ? "" : "s") + " of " + LONG_SILENCE_SECONDS + " s or more");
    setStatus(box, summary.join(" · ") + ".");
    box.setAttribute("data-speakers-drawn", found.level.length === 2 ? "stereo" : "mono");
  }

  /* ---------- loading ---------- */

  function decode(data) {
    var Offline = window.OfflineAudioContext || window.webkitOfflineAudioContext;
    if (!Offline) return Promise.reject(new Error("no-web-audio"));
    var context = new Offline(1, 1, SAMPLE_RATE);
    return new Promise(function (resolve, reject) {
      var pending = context.decodeAudioData(data, resolve, reject);
      if (pending && pending.then) pending.then(resolve, reject);
    });
  }

  function load(box) {
    if (box.hasAttribute("data-speakers-loading")) return;
    box.setAttribute("data-speakers-loading", "");
    var button = box.querySelector("[data-speakers-show]");
    if (button) button.hidden = true;
    setStatus(box, "Drawing both speakers…");
    fetch(box.getAttribute("data-audio"), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          return response.text().then(function (text) {
            throw new Error(text || "The audio could not be fetched (" + response.status + ").");
          });
        }
        return response.arrayBuffer();
      })
      .then(function (data) {
        return decode(data).catch(function () {
          throw new Error("This browser cannot decode this recording's audio, so the speakers cannot be drawn.");
        });
      })
      .then(function (buffer) { show(box, analyse(buffer)); })
      .catch(function (error) {
        box.removeAttribute("data-speakers-loading");
        if (button) {
          button.hidden = false;
          button.textContent = "Try again";
        }
        setStatus(box, error.message === "Failed to fetch" ? "The dashboard could not be reached." : error.message);
      });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-speakers-show]");
    if (button) load(button.closest("[data-speakers]"));
  });

  // Playing the recording is asking to hear it: draw its speakers alongside.
  document.addEventListener("play", function (event) {
    var container = event.target.closest && event.target.closest("[data-recording]");
    var box = container && container.querySelector("[data-speakers]");
    if (box && window.fetch) load(box);
  }, true);
})();

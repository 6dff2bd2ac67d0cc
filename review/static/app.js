// StreetWatch review page: keyboard triage and the evidence player.
// No framework, no network access beyond this server.
(function () {
  "use strict";

  function typing(e) {
    var t = e.target;
    return e.ctrlKey || e.metaKey || e.altKey || (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName)));
  }

  // Queue: j/k select, Enter/o open, c confirm, r reject.
  function queue() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("#queue tr.ticket"));
    try {
      sessionStorage.setItem("sw.queue", JSON.stringify(rows.map(function (r) { return r.getAttribute("data-href"); })));
    } catch (err) { /* private mode: no j/k on the case page */ }
    if (!rows.length) { return; }
    var i = 0;
    function select(n) {
      rows[i].classList.remove("selected");
      rows[i].removeAttribute("aria-selected");
      i = Math.max(0, Math.min(rows.length - 1, n));
      rows[i].classList.add("selected");
      rows[i].setAttribute("aria-selected", "true");
      rows[i].scrollIntoView({block: "nearest"});
    }
    select(0);
    rows.forEach(function (r, n) {
      r.addEventListener("click", function (e) {
        if (e.target.closest("a, button, form")) { return; }
        select(n);
        location.href = r.getAttribute("data-href");
      });
    });
    document.addEventListener("keydown", function (e) {
      if (typing(e)) { return; }
      var row = rows[i], f;
      switch (e.key) {
      case "j": select(i + 1); break;
      case "k": select(i - 1); break;
      case "Enter": case "o": location.href = row.getAttribute("data-href"); break;
      case "c":
        f = row.querySelector("form.confirm-form");
        if (f) { f.submit(); }
        break;
      case "r":
        f = row.querySelector("a.reject-link");
        if (f) { location.href = f.href; }
        break;
      default: return;
      }
      e.preventDefault();
    });
  }

  // Case page: j/k next/previous case of the last queue, c confirm, r reject.
  function casePage() {
    var list = [];
    try { list = JSON.parse(sessionStorage.getItem("sw.queue") || "[]"); } catch (err) { list = []; }
    var here = location.pathname;
    var pos = list.findIndex(function (h) { return h.split("?")[0] === here; });
    function go(d) {
      if (pos >= 0 && list[pos + d]) { location.href = list[pos + d]; }
    }
    function focusReject() {
      var sel = document.getElementById("reason");
      if (sel) { sel.scrollIntoView({block: "center"}); sel.focus(); }
    }
    if (location.hash === "#reject") { focusReject(); }
    document.addEventListener("keydown", function (e) {
      if (typing(e)) { return; }
      switch (e.key) {
      case "j": go(1); break;
      case "k": go(-1); break;
      case "c":
        var f = document.getElementById("confirm-form");
        if (f) { f.submit(); }
        break;
      case "r": focusReject(); break;
      default: return;
      }
      e.preventDefault();
    });
    player();
  }

  // The player: markers for the act and the confirmation on a timeline
  // under the video, the wall-clock time of the current picture.
  function player() {
    var v = document.getElementById("clip");
    if (!v) { return; }
    var duration = parseFloat(v.getAttribute("data-duration")) || 0;
    var start = parseInt(v.getAttribute("data-start"), 10) || 0;
    var tz = document.documentElement.getAttribute("data-tz") || undefined;
    var clock = document.getElementById("wallclock");
    var played = document.getElementById("played");
    var timeline = document.getElementById("timeline");
    var fmt = null;
    try {
      fmt = new Intl.DateTimeFormat("sv-SE", {timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false});
    } catch (err) { fmt = null; }
    function total() { return isFinite(v.duration) && v.duration > 0 ? v.duration : duration; }
    function place() {
      document.querySelectorAll(".timeline .mark").forEach(function (m) {
        var at = parseFloat(m.getAttribute("data-seek")) || 0;
        m.style.left = (100 * at / Math.max(total(), 0.001)) + "%";
      });
    }
    function update() {
      if (played) { played.style.width = (100 * v.currentTime / Math.max(total(), 0.001)) + "%"; }
      if (clock && start && fmt) { clock.textContent = fmt.format(new Date(start + v.currentTime * 1000)); }
    }
    place();
    v.addEventListener("loadedmetadata", place);
    v.addEventListener("timeupdate", update);
    document.querySelectorAll("[data-seek]").forEach(function (b) {
      b.addEventListener("click", function (e) {
        e.stopPropagation();
        v.currentTime = parseFloat(b.getAttribute("data-seek")) || 0;
        v.play();
      });
    });
    if (timeline) {
      timeline.addEventListener("click", function (e) {
        var r = timeline.getBoundingClientRect();
        v.currentTime = total() * (e.clientX - r.left) / r.width;
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.body.getAttribute("data-page");
    if (page === "queue") { queue(); }
    if (page === "case") { casePage(); }
  });
})();

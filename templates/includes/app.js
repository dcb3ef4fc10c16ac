(function () {
  "use strict";
  var NEAR_SECONDS = 30 * 60;

  function fmt(seconds) {
    var s = Math.abs(Math.round(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + pad(m) + "m " + pad(r) + "s";
  }

  // Live SLA countdowns: every [data-due] element shows the time left and turns amber / red.
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      if (el.dataset.contacted) { return; }
      var due = Date.parse(el.dataset.due);
      if (isNaN(due)) { return; }
      var left = (due - now) / 1000;
      var state = left <= 0 ? "breached" : (left <= NEAR_SECONDS ? "near" : "ok");
      el.textContent = left <= 0 ? "breached " + fmt(left) + " ago" : fmt(left) + " left";
      el.classList.remove("breached", "near", "ok");
      el.classList.add(state);
      el.setAttribute("data-state", state);
      var row = el.closest("tr");
      if (row) { row.classList.remove("breached", "near", "ok"); row.classList.add(state); }
    });
  }

  // Deal board: drag a card onto a column to open the move form for that stage.
  function openMove(url, stage) {
    var dialog = document.getElementById("move-dialog");
    if (!dialog || !window.htmx) { window.location = url + "?to=" + encodeURIComponent(stage); return; }
    window.htmx.ajax("GET", url + "?to=" + encodeURIComponent(stage), { target: "#move-dialog-body", swap: "innerHTML" })
      .then(function () { if (!dialog.open) { dialog.showModal(); } });
  }

  function wireBoard() {
    document.querySelectorAll(".deal-card[draggable]").forEach(function (card) {
      if (card.dataset.wired) { return; }
      card.dataset.wired = "1";
      card.addEventListener("dragstart", function (e) { e.dataTransfer.setData("text/plain", card.dataset.moveUrl); });
    });
    document.querySelectorAll(".column[data-stage]").forEach(function (col) {
      if (col.dataset.wired) { return; }
      col.dataset.wired = "1";
      col.addEventListener("dragover", function (e) { e.preventDefault(); col.classList.add("drop-target"); });
      col.addEventListener("dragleave", function () { col.classList.remove("drop-target"); });
      col.addEventListener("drop", function (e) {
        e.preventDefault(); col.classList.remove("drop-target");
        var url = e.dataTransfer.getData("text/plain");
        if (url) { openMove(url, col.dataset.stage); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick(); setInterval(tick, 1000); wireBoard();
    document.body.addEventListener("htmx:afterSwap", function (e) {
      tick(); wireBoard();
      if (e.detail && e.detail.target && e.detail.target.id === "move-dialog-body") {
        var dialog = document.getElementById("move-dialog");
        if (dialog && !dialog.open) { dialog.showModal(); }
      }
    });
  });
})();

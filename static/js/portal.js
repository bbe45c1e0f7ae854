// Progressive enhancements; every page works without this file.
// - Copy buttons for tracking numbers (hidden until this script can make them work).
// - Parcel cards that refresh themselves while the parcel is on its way, only while the tab is visible.
(function () {
  "use strict";

  function enableCopyButtons(root) {
    if (!navigator.clipboard) return;
    root.querySelectorAll("[data-copy-target]").forEach(function (button) {
      button.hidden = false;
      if (button.dataset.copyReady) return;
      button.dataset.copyReady = "1";
      button.addEventListener("click", function () {
        var source = document.getElementById(button.dataset.copyTarget);
        if (!source) return;
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          var original = button.textContent;
          button.textContent = button.dataset.copiedText || original;
          setTimeout(function () { button.textContent = original; }, 2000);
        });
      });
    });
  }

  var lastRefresh = Date.now();

  function refreshCards() {
    if (document.visibilityState !== "visible" || typeof htmx === "undefined") return;
    lastRefresh = Date.now();
    document.querySelectorAll("[data-refresh-url]").forEach(function (card) {
      // An inline form inside the card (delivery instructions) must not be replaced while it is open.
      if (card.querySelector("[data-pause-refresh]") || card.contains(document.activeElement)) return;
      fetch(card.dataset.refreshUrl, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (response) {
          // An error (grant expired, service down) leaves the last good card in place.
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html === null) return;
          card.innerHTML = html;
          htmx.process(card);
          enableCopyButtons(card);
          // A delivered or returned parcel will not change again: stop asking.
          if (card.querySelector("[data-parcel-final]")) card.removeAttribute("data-refresh-url");
        })
        .catch(function () { /* offline for a moment: try again next time */ });
    });
  }

  function startRefreshing() {
    var card = document.querySelector("[data-refresh-url]");
    if (!card) return;
    var seconds = parseInt(card.dataset.refreshSeconds, 10) || 60;
    setInterval(refreshCards, seconds * 1000);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && Date.now() - lastRefresh >= seconds * 1000) refreshCards();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enableCopyButtons(document);
    startRefreshing();
  });
  document.addEventListener("htmx:after:swap", function (event) {
    enableCopyButtons(event.target || document);
  });
})();

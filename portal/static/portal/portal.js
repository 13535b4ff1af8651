// Portal behaviour. Loaded as a static file: the CSP allows no inline scripts.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  function setupMenu() {
    var toggle = document.querySelector(".menu-toggle");
    var menu = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
    if (!toggle || !menu) return;
    function setOpen(open) {
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("is-open", open);
    }
    toggle.addEventListener("click", function () {
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        toggle.focus();
      }
    });
  }

  // A "Print" button (data-print): the browser's print dialog; without JavaScript the browser's own menu prints.
  function setupPrint() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  // The skip link moves focus to <main>, not only the scroll position.
  function setupSkipLink() {
    var skip = document.querySelector(".skip-link");
    var main = document.getElementById("main");
    if (!skip || !main) return;
    skip.addEventListener("click", function () {
      main.focus();
    });
  }

  // A badge's QR code: grey it out once readers no longer accept it (data-valid-ms after it arrived) unless htmx has
  // swapped in the next one by then, and fetch a fresh one as soon as the page is shown again (a phone woken up).
  function watchCodes(scope) {
    if (!scope || !scope.querySelectorAll) return;
    var codes = Array.prototype.slice.call(scope.querySelectorAll(".qr[data-valid-ms]"));
    if (scope.matches && scope.matches(".qr[data-valid-ms]")) codes.push(scope);
    codes.forEach(function (qr) {
      if (qr.dataset.watched) return;
      qr.dataset.watched = "1";
      var valid = parseInt(qr.dataset.validMs, 10);
      if (!(valid > 0)) return;
      window.setTimeout(function () { qr.classList.add("qr--stale"); }, valid);
    });
  }

  document.addEventListener("htmx:load", function (event) { watchCodes(event.detail && event.detail.elt); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible" || !window.htmx) return;
    Array.prototype.forEach.call(document.querySelectorAll(".qr[hx-get]"), function (qr) {
      window.htmx.trigger(qr, "refresh");
    });
  });

  function setup() {
    setupMenu();
    setupSkipLink();
    setupPrint();
    watchCodes(document);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();

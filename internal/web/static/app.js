// Enhancements only: every page works without this file.
//
// The error summary's links move the focus to their field and scroll its
// label or legend into view, as GOV.UK Frontend's error summary does (the
// browser alone would hide the label above the top of the window).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".nm-error-summary a[href^='#']");
    if (!link) {
      return;
    }
    var input = document.getElementById(link.getAttribute("href").slice(1));
    if (!input || typeof input.focus !== "function") {
      return;
    }
    event.preventDefault();
    var legend = input.closest("fieldset") && input.closest("fieldset").querySelector("legend");
    var label = legend || document.querySelector("label[for='" + input.id + "']");
    (label || input).scrollIntoView();
    input.focus({ preventScroll: true });
  });
})();

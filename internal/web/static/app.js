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

// Deadlines are stated in UTC; where the browser knows the reader's time
// zone, each also says the time there, in the page's language
// (data-nm-local-time holds the UTC time, the body's
// data-nm-local-label the sentence, "{time}" its place) and in the digits
// the page writes its own dates in (the body's data-nm-local-numbers:
// "arab" on Arabic pages, whose browsers' default is often Latin digits).
(function () {
  "use strict";
  var label = document.body && document.body.getAttribute("data-nm-local-label");
  if (!label || typeof Intl === "undefined" || !Intl.DateTimeFormat) {
    return;
  }
  var options = {
    year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  };
  var numbers = document.body.getAttribute("data-nm-local-numbers");
  if (numbers) {
    options.numberingSystem = numbers;
  }
  var format;
  try {
    format = new Intl.DateTimeFormat(document.documentElement.lang || undefined, options);
  } catch (e) {
    return;
  }
  var items = document.querySelectorAll("[data-nm-local-time]");
  for (var i = 0; i < items.length; i++) {
    var when = new Date(items[i].getAttribute("data-nm-local-time"));
    if (isNaN(when.getTime())) {
      continue;
    }
    items[i].textContent = label.replace("{time}", format.format(when));
    items[i].hidden = false;
  }
})();

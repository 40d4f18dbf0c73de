// Small behaviours the server-rendered pages need; htmx does the rest.
(function () {
  "use strict";

  // An article's table of contents is folded on a phone, where it sits under the title, and
  // open beside the article on a wider screen (the breakpoint of portal.css).
  // Content that htmx brings in gets the same treatment.
  var phone = window.matchMedia("(max-width: 48rem)");
  function foldTablesOfContents(root) {
    root.querySelectorAll("details[data-open-on-wide-screens]").forEach(function (toc) {
      toc.open = !phone.matches;
    });
  }
  foldTablesOfContents(document);
  phone.addEventListener("change", function () { foldTablesOfContents(document); });
  document.addEventListener("htmx:load", function (event) {
    foldTablesOfContents(event.target);
  });

  // After an htmx swap, move focus to the first field with an error, or to new content that
  // asks for it, so keyboard and screen-reader users land where the change is.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.target;  // the new element: an outerHTML swap replaces detail.target
    var invalid = target.querySelector("[aria-invalid='true']");
    var announce = target.querySelector("[data-focus-on-swap]");
    var next = invalid || announce;
    if (next) {
      next.focus();
    }
  });

  // A field swapped out of band with an error (a filter form beside the results) takes focus.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var invalid = event.target.querySelector("[aria-invalid='true']");
    if (invalid) {
      invalid.focus();
    }
  });

  // Let 422 responses (a form with errors) be swapped like a success, and 409 and 429
  // responses (a refusal, such as too many votes) where the target says it shows the reason
  // (data-swap-409, data-swap-429).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var target = event.detail.target;
    var refusal = (status === 409 || status === 429) && target &&
      target.hasAttribute("data-swap-" + status);
    if (status === 422 || refusal) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();

// Behaviour every page shares. It lives here, not in the HTML, so the Content-Security-Policy can
// refuse every inline script, handler and style attribute.
(function () {
  "use strict";
  // A menu marked data-autosubmit (the language switcher) submits its form as soon as it changes;
  // without JavaScript, the <noscript> button next to it does.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches("select[data-autosubmit]") && field.form) field.form.submit();
  });
  // Progress bars carry their width as data-percent: a style attribute would be an inline style.
  document.querySelectorAll("[data-percent]").forEach(function (bar) {
    bar.style.width = bar.getAttribute("data-percent") + "%";
  });
})();

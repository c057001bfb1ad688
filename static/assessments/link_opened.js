// The assessment link's landing page: tell the server once that the page was seen in a browser.
// A GET never writes (mail scanners open links), so this small POST is what records it.
(function () {
  "use strict";
  var form = document.querySelector("form[data-link-opened]");
  if (!form || !window.fetch) return;
  fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" }).catch(function () {});
})();

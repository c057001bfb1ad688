// Inviting people to an assessment: the pages work without this script; with it, a confirmation
// cannot be sent twice by a second click (the server refuses a second one anyway).
(function () {
  "use strict";
  var confirmForm = document.querySelector("[data-confirm-form]");
  if (confirmForm) {
    confirmForm.addEventListener("submit", function (event) {
      if (confirmForm.dataset.sent) {
        event.preventDefault();
        return;
      }
      confirmForm.dataset.sent = "1";
      var button = confirmForm.querySelector("[data-confirm]");
      if (button && event.submitter === button) button.setAttribute("aria-disabled", "true");
    });
  }
})();

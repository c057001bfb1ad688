// The question editor: "Add a choice" shows the next spare row. Without JavaScript the page shows
// two empty rows under the filled ones, enough to add choices two at a time.
(function () {
  "use strict";
  var button = document.querySelector("[data-add-choice]");
  if (!button) return;
  function spare() {
    return document.querySelector("[data-choice-row][data-spare].d-none");
  }
  if (spare()) button.classList.remove("d-none");
  button.addEventListener("click", function () {
    var row = spare();
    if (!row) return;
    row.classList.remove("d-none");
    row.removeAttribute("data-spare");
    row.querySelector("input[type=text]").focus();
    if (!spare()) button.classList.add("d-none");
  });
})();

// The questionnaire settings: the groups are asked for only when "Chosen groups" is picked. Without
// JavaScript they are always shown (and ignored for the other visibilities).
(function () {
  "use strict";
  var form = document.querySelector("[data-questionnaire-form]");
  var groups = document.querySelector("[data-groups-field]");
  if (!form || !groups) return;
  function update() {
    var picked = form.querySelector("input[name=visibility]:checked");
    groups.classList.toggle("d-none", !picked || picked.value !== "groups");
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "visibility") update();
  });
  update();
})();

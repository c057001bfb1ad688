// "Select every row on this page" for the people and contacts lists.
(function () {
  const master = document.getElementById("check-page");
  if (!master) return;
  const rows = () => document.querySelectorAll(".row-check");
  master.addEventListener("change", () => rows().forEach((box) => { box.checked = master.checked; }));
})();

// "Select every row on this page" for the people and contacts lists: the table header's checkbox on a
// wide screen, the one above the cards on a phone (both kept in step).
(function () {
  const masters = document.querySelectorAll("[data-check-page]");
  if (!masters.length) return;
  const rows = () => document.querySelectorAll(".row-check");
  masters.forEach((master) => master.addEventListener("change", () => {
    masters.forEach((other) => { other.checked = master.checked; });
    rows().forEach((box) => { box.checked = master.checked; });
  }));
})();

// Ticking a group for a right means "for the users of these groups": select that option too,
// so nobody ticks groups and saves a right that stays at "No".
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!box.matches("[data-right-groups] input[type=checkbox]") || !box.checked) return;
  const right = box.closest("[data-right]");
  const option = right && right.querySelector('input[type=radio][value="groups"]');
  if (option) option.checked = true;
});

// The group boxes matter only for "for the users of these groups": shown with that choice alone.
function showGroupsForChoice(right) {
  const groups = right.querySelector("[data-right-groups]");
  const chosen = right.querySelector("input[type=radio]:checked");
  if (groups) groups.hidden = !(chosen && chosen.value === "groups");
}
document.querySelectorAll("[data-right]").forEach(showGroupsForChoice);
document.addEventListener("change", (event) => {
  if (!event.target.matches("[data-right] input[type=radio]")) return;
  showGroupsForChoice(event.target.closest("[data-right]"));
});

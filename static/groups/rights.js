// Ticking a group for a right means "for the users of these groups": select that option too,
// so nobody ticks groups and saves a right that stays at "No".
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!box.matches("[data-right-groups] input[type=checkbox]") || !box.checked) return;
  const right = box.closest("[data-right]");
  const option = right && right.querySelector('input[type=radio][value="groups"]');
  if (option) option.checked = true;
});

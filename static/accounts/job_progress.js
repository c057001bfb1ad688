// Follow a background job (import, bulk action): poll its progress and reload the page when its
// state changes. A counting bar (data-counting="1") shows "done / total".
(function () {
  const box = document.getElementById("import-progress") || document.getElementById("job-progress");
  if (!box) return;
  const bar = box.querySelector(".progress-bar");
  const meter = box.querySelector(".progress");
  const poll = () => {
    fetch(box.dataset.url, { headers: { Accept: "application/json" } })
      .then((response) => response.json())
      .then((job) => {
        if (job.state !== box.dataset.state) { window.location.reload(); return; }
        if (box.dataset.counting === "1") {
          bar.style.width = job.percent + "%";
          bar.textContent = job.progress + " / " + job.total;
          meter.setAttribute("aria-valuenow", job.percent);
        }
        setTimeout(poll, 1000);
      })
      .catch(() => setTimeout(poll, 3000));
  };
  setTimeout(poll, 1000);
})();

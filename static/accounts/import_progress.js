// Poll the import's progress while a worker checks or applies the file; reload when its state changes.
(function () {
  const box = document.getElementById("import-progress");
  if (!box) return;
  const bar = box.querySelector(".progress-bar");
  const meter = box.querySelector(".progress");
  const poll = () => {
    fetch(box.dataset.url, { headers: { Accept: "application/json" } })
      .then((response) => response.json())
      .then((job) => {
        if (job.state !== box.dataset.state) { window.location.reload(); return; }
        if (job.state === "checking") {
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

// Live progress of a batch: poll its JSON counts until every message is sent or failed.
(function () {
  "use strict";
  var section = document.querySelector("[data-progress-url]");
  if (!section) return;
  var url = section.getAttribute("data-progress-url");
  var bar = section.querySelector("[data-progress-bar]");
  var fill = section.querySelector("[data-progress-fill]");
  var retry = document.querySelector("[data-retry]");

  function show(progress) {
    fill.style.width = progress.percent + "%";
    fill.textContent = progress.percent + "%";
    bar.setAttribute("aria-valuenow", progress.percent);
    ["pending", "sent", "failed", "total"].forEach(function (name) {
      var cell = section.querySelector('[data-count="' + name + '"]');
      if (cell) cell.textContent = progress[name];
    });
    if (retry) retry.disabled = progress.failed === 0;
    if (progress.done) fill.classList.remove("progress-bar-striped", "progress-bar-animated");
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (progress) {
        if (!progress) return;
        show(progress);
        if (!progress.done) window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }

  poll();
})();

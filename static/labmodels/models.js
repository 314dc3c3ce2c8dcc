// Live progress of a running adaptation: poll the job row, update the bar, reload when it ends.
(function () {
  "use strict";
  const job = document.getElementById("job");
  if (!job) return;
  const url = job.dataset.statusUrl;
  const set = (id, text) => { const el = document.getElementById(id); if (el) el.textContent = text; };
  async function poll() {
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      data = await response.json();
    } catch (err) {
      setTimeout(poll, 3000);
      return;
    }
    set("job-status", data.status);
    set("job-stage", data.stage);
    set("job-epoch", String(data.epoch));
    set("job-loss", data.loss === null ? "—" : data.loss.toFixed(4));
    document.getElementById("job-progress").value = data.progress;
    job.dataset.status = data.status;
    if (data.status === "queued" || data.status === "running") {
      setTimeout(poll, 1000);
    } else {
      window.location.reload();
    }
  }
  setTimeout(poll, 500);
})();

// Slide gallery: link each crop to its outline on the smear, toggle heatmaps, refresh while the run is pending.
(function () {
  "use strict";
  const pending = document.getElementById("run-pending");
  if (pending) {
    const url = pending.dataset.statusUrl;
    const slideId = Number(pending.dataset.slide);
    const bar = pending.querySelector("progress");
    const check = () => fetch(url, { credentials: "same-origin" }).then((r) => r.json()).then((data) => {
      const s = data.slides.find((x) => x.id === slideId);
      if (s && (s.status === "done" || s.status === "failed")) { window.location.reload(); return; }
      if (s) bar.value = s.progress;
      setTimeout(check, 2000);
    }).catch(() => setTimeout(check, 6000));
    setTimeout(check, 2000);
    return;
  }
  const toggle = document.getElementById("show-heat");
  const grid = document.getElementById("cells");
  if (toggle && grid) toggle.addEventListener("change", () => grid.classList.toggle("show-heat", toggle.checked));

  function activate(id, on) {
    document.querySelectorAll('[data-cell="' + id + '"]').forEach((n) => n.classList.toggle("active", on));
  }
  document.querySelectorAll(".cell-card, .outline").forEach((node) => {
    const id = node.dataset.cell;
    node.addEventListener("mouseenter", () => activate(id, true));
    node.addEventListener("mouseleave", () => activate(id, false));
    node.addEventListener("focus", () => activate(id, true));
    node.addEventListener("blur", () => activate(id, false));
  });
  document.querySelectorAll(".cell-card").forEach((card) => {
    const flip = () => card.classList.toggle("show");
    card.addEventListener("click", flip);
    card.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); flip(); } });
  });
  // Linked from the review page (#cell-<id>): mark that cell on the smear and in the list until another is chosen.
  const linked = /^#cell-(\d+)$/.exec(window.location.hash);
  if (linked) {
    document.querySelectorAll('[data-cell="' + linked[1] + '"]').forEach((n) => n.classList.add("linked"));
    const smear = document.getElementById("smear");
    if (smear) smear.scrollIntoView({ block: "start" });
  }
  document.querySelectorAll(".outline").forEach((shape) => {
    shape.addEventListener("click", () => {
      const card = document.querySelector('.cell-card[data-cell="' + shape.dataset.cell + '"]');
      if (card) { card.scrollIntoView({ behavior: "smooth", block: "center" }); card.focus(); }
    });
  });
})();

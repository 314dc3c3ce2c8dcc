// Review page: move through the cells with the mouse or the keyboard, set classes one by one or in bulk; every
// change is POSTed at once (JSON, CSRF header) and the counts panel is replaced by the server's rendering.
(function () {
  "use strict";
  const gallery = document.getElementById("review-gallery");
  const form = document.getElementById("review-form");
  if (!gallery || !form || gallery.dataset.editable !== "1") return;

  const keyToLabel = {};
  Object.entries(JSON.parse(document.getElementById("review-label-keys").textContent)).forEach(([label, key]) => {
    keyToLabel[key] = label;
  });
  const buttons = Array.from(form.querySelectorAll(".label-btn"));
  const displayOf = {};
  buttons.forEach((b, i) => { displayOf[b.dataset.label] = b.dataset.display; keyToLabel[String(i + 1)] = b.dataset.label; });
  const cards = Array.from(gallery.querySelectorAll(".review-cell"));
  const message = document.getElementById("review-message");
  const targetCount = document.getElementById("target-count");
  const selected = new Set();
  let focused = null;
  let pending = null;
  let saving = false;

  form.addEventListener("submit", (e) => e.preventDefault());  // every change goes by fetch

  function csrfToken() { return form.querySelector("input[name=csrfmiddlewaretoken]").value; }

  function say(text, isError) {
    message.textContent = text;
    message.classList.toggle("error-text", Boolean(isError));
  }

  function targets() {
    if (selected.size) return Array.from(selected);
    return focused ? [focused] : [];
  }

  function describeTargets() {
    const n = targets().length;
    targetCount.textContent = selected.size ? n + " selected cell" + (n === 1 ? "" : "s") : "the focused cell";
  }

  function setPending(label) {
    cards.forEach((c) => c.classList.remove("pending"));
    pending = label;
    if (!label) return;
    targets().forEach((c) => c.classList.add("pending"));
    const n = targets().length;
    say("Enter sets " + n + " cell" + (n === 1 ? "" : "s") + " to " + displayOf[label] + "; Escape cancels.");
  }

  function focusCard(card) {
    if (!card) return;
    if (focused) focused.tabIndex = -1;
    focused = card;
    card.tabIndex = 0;
    card.focus();
    cards.forEach((c) => c.classList.toggle("focused", c === card));
    if (pending && !selected.size) setPending(pending);
    describeTargets();
  }

  function toggleSelect(card, on) {
    const want = on === undefined ? !selected.has(card) : on;
    if (want) selected.add(card); else selected.delete(card);
    card.classList.toggle("selected", want);
    card.setAttribute("aria-selected", want ? "true" : "false");
    const box = card.querySelector(".pick");
    if (box) box.checked = want;
    describeTargets();
  }

  function clearSelection() { Array.from(selected).forEach((c) => toggleSelect(c, false)); }

  // The card in the next or previous row nearest in x (cards wrap, so rows come from the layout).
  function vertical(card, dir) {
    const r = card.getBoundingClientRect();
    let best = null;
    let bestScore = Infinity;
    cards.forEach((c) => {
      const q = c.getBoundingClientRect();
      const dy = (q.top - r.top) * dir;
      if (dy <= 4) return;
      const score = dy * 1000 + Math.abs(q.left - r.left);
      if (score < bestScore) { bestScore = score; best = c; }
    });
    return best;
  }

  function markSaved(card, label) {
    card.dataset.label = label;
    card.classList.add("reviewed");
    const now = card.querySelector(".now");
    now.textContent = displayOf[label];
    now.title = displayOf[label];
    now.className = "now lbl-" + label;
    card.setAttribute("aria-label", card.getAttribute("aria-label").replace(/, [^,]+$/, ", " + displayOf[label]));
  }

  async function save(cardsToSave, label) {
    if (!cardsToSave.length || saving) return false;
    saving = true;
    const ids = cardsToSave.map((c) => Number(c.dataset.cell));
    say("Saving…");
    try {
      const response = await fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
        body: JSON.stringify({ cells: ids, label: label }),
      });
      let data = {};
      try { data = await response.json(); } catch (err) { data = {}; }
      if (!response.ok) { say(data.error || "Not saved (HTTP " + response.status + ")", true); return false; }
      cardsToSave.forEach((c) => markSaved(c, label));
      document.getElementById("review-counts").innerHTML = data.counts_html;
      const since = document.getElementById("changes-since");
      if (since) {
        document.getElementById("changes-count").textContent = data.changes_since_signed;
        since.hidden = !data.changes_since_signed;
      }
      say("Saved: " + ids.length + " cell" + (ids.length === 1 ? "" : "s") + " set to " + data.display + ".");
      return true;
    } catch (err) {
      say("Network error: not saved. Try again.", true);
      return false;
    } finally {
      saving = false;
    }
  }

  async function confirm() {
    if (!pending) return;
    const bulk = selected.size > 0;
    const ok = await save(targets(), pending);
    if (!ok) return;
    setPending(null);
    if (bulk) { clearSelection(); return; }
    const next = cards[cards.indexOf(focused) + 1];
    if (next) focusCard(next);
  }

  gallery.addEventListener("click", (e) => {
    const card = e.target.closest(".review-cell");
    if (!card) return;
    if (e.target.classList.contains("pick") || e.ctrlKey || e.metaKey || e.shiftKey) toggleSelect(card);
    focusCard(card);
  });

  gallery.addEventListener("keydown", (e) => {
    if (!focused || e.altKey || e.ctrlKey || e.metaKey) return;
    const i = cards.indexOf(focused);
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (key === "ArrowRight") focusCard(cards[i + 1]);
    else if (key === "ArrowLeft") focusCard(cards[i - 1]);
    else if (key === "ArrowDown") focusCard(vertical(focused, 1));
    else if (key === "ArrowUp") focusCard(vertical(focused, -1));
    else if (key === " ") toggleSelect(focused);
    else if (key === "Enter") confirm();
    else if (key === "Escape") { setPending(null); clearSelection(); say(""); }
    else if (keyToLabel[key]) setPending(keyToLabel[key]);
    else return;
    e.preventDefault();
  });

  buttons.forEach((b) => b.addEventListener("click", async () => {
    const bulk = selected.size > 0;
    if (!targets().length) { say("Click a cell first, or select several.", true); return; }
    if (await save(targets(), b.dataset.label)) { setPending(null); if (bulk) clearSelection(); }
  }));

  document.getElementById("clear-selection").addEventListener("click", () => { clearSelection(); setPending(null); });
  gallery.querySelectorAll(".select-group").forEach((b) => b.addEventListener("click", (e) => {
    e.stopPropagation();
    gallery.querySelectorAll('.review-group[data-group="' + b.dataset.group + '"] .review-cell').forEach((c) => toggleSelect(c, true));
  }));

  if (cards.length) { cards[0].tabIndex = 0; focused = cards[0]; cards[0].classList.add("focused"); }
  describeTargets();
})();

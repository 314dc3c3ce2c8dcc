// Review page: filter the cells (all, unreviewed, AI-flagged, one class), page through them, move with the mouse or
// the keyboard, set classes one by one or in bulk, zoom a cell and see its place on the smear. Every change is POSTed
// at once (JSON, CSRF header) and the counts panel is replaced by the server's rendering.
(function () {
  "use strict";
  const gallery = document.getElementById("review-gallery");
  if (!gallery) return;
  const form = document.getElementById("review-form");
  const editable = Boolean(form) && gallery.dataset.editable === "1";
  const pageSize = Number(gallery.dataset.pageSize) || 60;
  const cards = Array.from(gallery.querySelectorAll(".review-cell"));
  const filterButtons = Array.from(document.querySelectorAll(".filter"));
  const classFilter = document.getElementById("class-filter");
  const pageInfo = document.getElementById("page-info");
  const empty = document.getElementById("filter-empty");
  const message = document.getElementById("review-message");
  const targetCount = document.getElementById("target-count");
  const zoom = document.getElementById("zoom");
  const keyToLabel = {};
  Object.entries(JSON.parse(document.getElementById("review-label-keys").textContent)).forEach(([label, key]) => {
    keyToLabel[key] = label;
  });
  const buttons = form ? Array.from(form.querySelectorAll(".label-btn")) : [];
  const displayOf = {};
  buttons.forEach((b, i) => { displayOf[b.dataset.label] = b.dataset.display; keyToLabel[String(i + 1)] = b.dataset.label; });
  const selected = new Set();
  let filter = "all";
  let page = 0;
  let focused = null;
  let pending = null;
  let saving = false;

  function say(text, isError) {
    if (!message) return;
    message.textContent = text;
    message.classList.toggle("error-text", Boolean(isError));
  }

  // --- filters and pages -------------------------------------------------------------------------------------------
  function matches(card) {
    const cls = classFilter ? classFilter.value : "";
    if (cls && card.dataset.label !== cls) return false;
    if (filter === "unreviewed") return !card.dataset.label;
    if (filter === "flagged") return card.dataset.ai === "blast";
    return true;
  }

  function matching() { return cards.filter(matches); }

  function visible() { return cards.filter((c) => !c.hidden); }

  function updateFilterCounts() {
    const n = { all: cards.length, unreviewed: 0, flagged: 0 };
    cards.forEach((c) => { if (!c.dataset.label) n.unreviewed += 1; if (c.dataset.ai === "blast") n.flagged += 1; });
    filterButtons.forEach((b) => { b.querySelector(".n").textContent = "(" + n[b.dataset.filter] + ")"; });
  }

  function render(keepFocus, moveFocus) {
    const shown = matching();
    const pages = Math.max(1, Math.ceil(shown.length / pageSize));
    page = Math.min(Math.max(page, 0), pages - 1);
    const onPage = new Set(shown.slice(page * pageSize, (page + 1) * pageSize));
    cards.forEach((c) => { c.hidden = !onPage.has(c); });
    pageInfo.textContent = shown.length
      ? "page " + (page + 1) + " of " + pages + " · cells " + (page * pageSize + 1) + "–" + Math.min(shown.length, (page + 1) * pageSize) + " of " + shown.length
      : "no cells";
    document.getElementById("page-prev").disabled = page === 0;
    document.getElementById("page-next").disabled = page >= pages - 1;
    if (empty) empty.hidden = shown.length > 0;
    updateFilterCounts();
    if (!keepFocus || !focused || focused.hidden) focusCard(visible()[0] || null, moveFocus !== false);
  }

  function setFilter(name) {
    filter = name;
    filterButtons.forEach((b) => b.setAttribute("aria-pressed", b.dataset.filter === name ? "true" : "false"));
    page = 0;
    render(false);
  }

  function turnPage(delta) { page += delta; render(false); }

  // Shift+C: the class filter's next option (any, blast, lymphocyte, ...), so the keyboard never has to leave the cells.
  function cycleClass() {
    if (!classFilter) return;
    classFilter.selectedIndex = (classFilter.selectedIndex + 1) % classFilter.options.length;
    page = 0;
    render(false);
    say("Showing class: " + classFilter.options[classFilter.selectedIndex].text + ".");
  }

  filterButtons.forEach((b) => b.addEventListener("click", () => setFilter(b.dataset.filter)));
  if (classFilter) classFilter.addEventListener("change", () => { page = 0; render(false); });
  document.getElementById("page-prev").addEventListener("click", () => turnPage(-1));
  document.getElementById("page-next").addEventListener("click", () => turnPage(1));

  // --- focus and selection ------------------------------------------------------------------------------------------
  function targets() {
    if (selected.size) return Array.from(selected);
    return focused ? [focused] : [];
  }

  function describeTargets() {
    if (!targetCount) return;
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

  function focusCard(card, moveFocus) {
    if (focused) focused.tabIndex = -1;
    focused = card;
    cards.forEach((c) => c.classList.toggle("focused", c === card));
    if (!card) {
      if (moveFocus !== false) gallery.focus();
      describeTargets();
      return;
    }
    card.tabIndex = 0;
    if (moveFocus !== false) { card.focus(); card.scrollIntoView({ block: "nearest" }); }
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

  // The visible card in the next or previous row nearest in x (cards wrap, so rows come from the layout).
  function vertical(card, dir) {
    const r = card.getBoundingClientRect();
    let best = null;
    let bestScore = Infinity;
    visible().forEach((c) => {
      const q = c.getBoundingClientRect();
      const dy = (q.top - r.top) * dir;
      if (dy <= 4) return;
      const score = dy * 1000 + Math.abs(q.left - r.left);
      if (score < bestScore) { bestScore = score; best = c; }
    });
    return best;
  }

  // Next visible card, or the first of the next page at a page's end.
  function step(card, dir) {
    const shown = visible();
    const i = shown.indexOf(card) + dir;
    if (i >= 0 && i < shown.length) return shown[i];
    const before = page;
    turnPage(dir);
    if (page === before) return card;
    const now = visible();
    return dir > 0 ? now[0] : now[now.length - 1];
  }

  // --- saving ---------------------------------------------------------------------------------------------------------
  function markSaved(card, label) {
    card.dataset.label = label;
    card.classList.add("reviewed");
    card.classList.remove("unreviewed");
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
        headers: {
          "Content-Type": "application/json",
          "X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value,
          Accept: "application/json",
        },
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

  // The next cell after ``card`` in review order that the filter shows (after a save it may have left the filter).
  function nextMatching(card) {
    for (let j = cards.indexOf(card) + 1; j < cards.length; j += 1) if (matches(cards[j])) return cards[j];
    return null;
  }

  function showCard(card) {
    const i = matching().indexOf(card);
    if (i >= 0) page = Math.floor(i / pageSize);
    render(true, false);
    focusCard(card);
  }

  async function apply(label) {
    const bulk = selected.size > 0;
    const saved = targets();
    if (!(await save(saved, label))) return;
    setPending(null);
    if (bulk) {
      clearSelection();
      render(true, false);
      focusCard(focused && !focused.hidden ? focused : visible()[0] || null);
      return;
    }
    const next = nextMatching(saved[0]);
    if (next) { showCard(next); return; }
    render(true, false);
    focusCard(matches(saved[0]) ? saved[0] : visible()[0] || null);
  }

  // --- zoom -------------------------------------------------------------------------------------------------------------
  function openZoom(card) {
    if (!zoom || !card) return;
    const [x, y, w, h] = card.dataset.bbox.split(",").map(Number);
    const [W, H] = card.dataset.size.split(",").map(Number);
    document.getElementById("zoom-h").textContent = card.getAttribute("aria-label");
    document.getElementById("zoom-crop").src = card.dataset.crop;
    document.getElementById("zoom-smear").src = card.dataset.smear;
    document.getElementById("zoom-gallery").href = card.dataset.gallery;
    // Full resolution: the smear itself behind a window, one image pixel per CSS pixel, centred on the cell.
    const native = document.getElementById("zoom-native");
    if (native) {
      const side = native.clientWidth || 360;
      native.style.backgroundImage = "url(" + JSON.stringify(card.dataset.smear) + ")";
      native.style.backgroundPosition = (side / 2 - (x + w / 2)) + "px " + (side / 2 - (y + h / 2)) + "px";
      native.hidden = !(W && H);
    }
    const svg = document.getElementById("zoom-mark");
    const rect = svg.querySelector("rect");
    if (W && H) {
      svg.setAttribute("viewBox", "0 0 " + W + " " + H);
      const pad = Math.max(w, h) * 0.25;
      rect.setAttribute("x", x - pad); rect.setAttribute("y", y - pad);
      rect.setAttribute("width", w + 2 * pad); rect.setAttribute("height", h + 2 * pad);
      svg.hidden = false;
    } else {
      svg.hidden = true;
    }
    zoom.showModal();
  }
  if (zoom) zoom.addEventListener("close", () => { if (focused) focused.focus(); });

  // --- events ---------------------------------------------------------------------------------------------------------
  gallery.addEventListener("click", (e) => {
    const card = e.target.closest(".review-cell");
    if (!card) return;
    if (e.target.closest(".zoom")) { focusCard(card); openZoom(card); return; }
    if (e.target.closest("a")) return;
    if (editable && (e.target.classList.contains("pick") || e.ctrlKey || e.metaKey || e.shiftKey)) toggleSelect(card);
    focusCard(card);
  });

  gallery.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    // The filters work with no cell shown too (the list itself keeps the focus), so a filter can always be left.
    if (e.shiftKey && key === "u") setFilter(filter === "unreviewed" ? "all" : "unreviewed");
    else if (e.shiftKey && key === "f") setFilter(filter === "flagged" ? "all" : "flagged");
    else if (e.shiftKey && key === "c") cycleClass();
    else if (!focused) return;
    else if (key === "ArrowRight") focusCard(step(focused, 1));
    else if (key === "ArrowLeft") focusCard(step(focused, -1));
    else if (key === "ArrowDown") focusCard(vertical(focused, 1) || step(focused, 1));
    else if (key === "ArrowUp") focusCard(vertical(focused, -1) || step(focused, -1));
    else if (key === "PageDown") { turnPage(1); focusCard(visible()[0] || null); }
    else if (key === "PageUp") { turnPage(-1); focusCard(visible()[0] || null); }
    else if (key === "Home") focusCard(visible()[0] || null);
    else if (key === "End") { const v = visible(); focusCard(v[v.length - 1] || null); }
    else if (key === "z") openZoom(focused);
    else if (!editable) return;
    else if (e.shiftKey && key === "a") visible().forEach((c) => toggleSelect(c, true));
    else if (key === " ") toggleSelect(focused);
    else if (key === "Enter") { if (pending) apply(pending); }
    else if (key === "Escape") { setPending(null); clearSelection(); say(""); }
    else if (keyToLabel[key]) setPending(keyToLabel[key]);
    else return;
    e.preventDefault();
  });

  if (editable) {
    form.addEventListener("submit", (e) => e.preventDefault());  // every change goes by fetch
    buttons.forEach((b) => b.addEventListener("click", async () => {
      if (!targets().length) { say("Click a cell first, or select several.", true); return; }
      await apply(b.dataset.label);
    }));
    document.getElementById("clear-selection").addEventListener("click", () => { clearSelection(); setPending(null); });
    document.getElementById("select-page").addEventListener("click", () => visible().forEach((c) => toggleSelect(c, true)));
  }

  // Opened to review (not a sign-off answer): the keyboard starts on the first cell.
  render(false, gallery.dataset.autofocus === "1");
})();

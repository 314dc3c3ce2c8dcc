// Case page: drag-and-drop upload (one XHR per file, each with a progress bar) and live slide status (polling).
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("case-config").textContent);
  const form = document.getElementById("upload-form");
  const list = document.getElementById("upload-list");
  const rows = document.getElementById("slide-rows");
  const POLL_MS = 2000;
  let pollTimer = null;

  function csrfToken() {
    const input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function uploadOne(file) {
    const item = el("li");
    const name = el("span", { class: "name" }, file.name);
    const bar = el("progress", { max: "1", value: "0", "aria-label": "Upload of " + file.name });
    const msg = el("span", { class: "upload-msg" }, "Uploading…");
    item.append(name, bar, msg);
    list.append(item);
    const body = new FormData();
    body.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; });
    xhr.addEventListener("load", () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch (err) { data = {}; }
      if (xhr.status === 201) {
        bar.value = 1;
        msg.textContent = "Uploaded, queued for analysis";
        item.classList.add("done");
        item.dataset.slide = String(data.slide.id);  // poll() follows it to Done or Failed
        poll();
      } else {
        refuse(item, bar, msg, data.error || ("Upload failed (HTTP " + xhr.status + ")"));
      }
    });
    xhr.addEventListener("error", () => refuse(item, bar, msg, "Network error: not uploaded"));
    xhr.send(body);
  }

  // A refused upload: the bytes were sent (the bar is full) but nothing was stored, so the bar goes and says so.
  function refuse(item, bar, msg, text) {
    item.classList.add("failed");
    bar.replaceWith(el("span", { class: "upload-refused" }, "Not stored"));
    msg.textContent = text;
  }

  // The upload list follows the table: queued, analysing, done (with its cells) or failed (with the reason).
  function followUploads(slides) {
    const byId = new Map(slides.map((s) => [String(s.id), s]));
    list.querySelectorAll("li[data-slide]").forEach((item) => {
      const s = byId.get(item.dataset.slide);
      if (!s) return;
      const msg = item.querySelector(".upload-msg");
      if (s.status === "done") msg.textContent = "Analysed: " + s.n_cells + " cells";
      else if (s.status === "failed") { item.classList.add("failed"); msg.textContent = "Analysis failed: " + (s.error || "no reason recorded"); }
      else if (s.status === "running") msg.textContent = "Analysing… " + Math.round(s.progress * 100) + "%";
      else msg.textContent = "Uploaded, queued for analysis";
      item.dataset.status = s.status;
    });
  }

  function badge(cls, text) { return el("span", { class: "badge " + cls }, text); }

  function renderRow(s) {
    const tr = el("tr", { "data-slide": String(s.id) });
    const thumb = el("td", { class: "thumb" });
    if (s.thumb_url) {
      const a = el("a", { href: s.gallery_url, tabindex: "-1" });
      a.append(el("img", { src: s.thumb_url, alt: "", width: "80", height: "60", loading: "lazy" }));
      thumb.append(a);
    }
    const name = el("td"); name.append(el("a", { href: s.gallery_url }, s.name));
    const status = el("td");
    status.append(badge("status-" + s.status, s.status_label));
    if (s.status === "running") {
      const p = el("progress", { max: "1", value: String(s.progress), "aria-label": "Analysis progress of " + s.name });
      const wrap = el("div", { class: "bar-cell" }); wrap.append(p, " " + Math.round(s.progress * 100) + "%");
      status.append(wrap);
    }
    if (s.error) status.append(el("div", { class: "error-text" }, s.error));
    const cells = el("td", {}, s.n_cells === null ? "—" : String(s.n_cells));
    const flagged = el("td", {}, s.n_blast === null ? "—" : String(s.n_blast));
    const call = el("td");
    if (s.call) {
      const b = badge("call-" + s.call, s.call_label);
      b.title = s.call_explanation;
      call.append(b);
    } else call.textContent = "—";
    tr.append(thumb, name, status, cells, flagged, call);
    return tr;
  }

  function poll() {
    clearTimeout(pollTimer);
    fetch(config.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => {
        if (data.slides.length) rows.replaceChildren(...data.slides.map(renderRow));
        if (list) followUploads(data.slides);
        const caseStatus = document.getElementById("case-status");
        caseStatus.textContent = data.case.status_label;
        caseStatus.className = "badge status-" + data.case.status;
        document.getElementById("case-summary").innerHTML = data.summary_html;
        const busy = data.slides.some((s) => s.status === "queued" || s.status === "running");
        if (busy) pollTimer = setTimeout(poll, POLL_MS);
      })
      .catch(() => { pollTimer = setTimeout(poll, POLL_MS * 3); });
  }

  if (form) {
    const input = document.getElementById("upload-input");
    input.addEventListener("change", () => { Array.from(input.files).forEach(uploadOne); input.value = ""; });
    ["dragenter", "dragover"].forEach((t) => form.addEventListener(t, (e) => { e.preventDefault(); form.classList.add("dragover"); }));
    ["dragleave", "drop"].forEach((t) => form.addEventListener(t, (e) => { e.preventDefault(); form.classList.remove("dragover"); }));
    form.addEventListener("drop", (e) => Array.from(e.dataTransfer.files).forEach(uploadOne));
  }
  if (rows.querySelector(".status-queued, .status-running")) poll();
})();

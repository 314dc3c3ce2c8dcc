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
        poll();
      } else {
        item.classList.add("failed");
        msg.textContent = data.error || ("Upload failed (HTTP " + xhr.status + ")");
      }
    });
    xhr.addEventListener("error", () => { item.classList.add("failed"); msg.textContent = "Network error: not uploaded"; });
    xhr.send(body);
  }

  function badge(cls, text) { return el("span", { class: "badge " + cls }, text); }

  function renderRow(s) {
    const tr = el("tr", { "data-slide": String(s.id) });
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
    if (s.call) call.append(badge("call-" + s.call, s.call.charAt(0).toUpperCase() + s.call.slice(1))); else call.textContent = "—";
    tr.append(name, status, cells, flagged, call);
    return tr;
  }

  function poll() {
    clearTimeout(pollTimer);
    fetch(config.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((data) => {
        if (data.slides.length) rows.replaceChildren(...data.slides.map(renderRow));
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

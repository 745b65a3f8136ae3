"use strict";
// Shared by the verify and audit pages: the API, the reviewer's name, figures and drawing.
const Review = (() => {
  const NAME_KEY = "camcensus-review-name";
  // one id per tab (kept across reloads): the server hands two tabs different items
  const clientId = sessionStorage.getItem("camcensus-review-tab") ||
    Math.random().toString(36).slice(2) + Date.now().toString(36);
  sessionStorage.setItem("camcensus-review-tab", clientId);
  const input = document.getElementById("reviewer");
  input.value = localStorage.getItem(NAME_KEY) || document.body.dataset.defaultReviewer || "";
  input.addEventListener("change", () => localStorage.setItem(NAME_KEY, input.value.trim()));

  function reviewer() {
    const name = input.value.trim();
    if (!name) {
      toast("Type your name in the Reviewer field first.", "error");
      input.focus();
      return null;
    }
    localStorage.setItem(NAME_KEY, name);
    return name;
  }

  async function api(method, url, body) {
    const options = { method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      toast("The review server does not answer: is `camcensus review` still running?", "error");
      return null;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      toast(data.error || `error ${response.status}`, "error");
      return null;
    }
    return data;
  }

  let toastTimer = null;
  function toast(text, kind) {
    const box = document.getElementById("toast");
    box.textContent = text;
    box.className = "show " + (kind || "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.className = ""; }, 2500);
  }

  function fmt(value, digits = 2) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  function interval(lo, hi) {
    return lo === null || lo === undefined ? "–" : `${fmt(lo)}–${fmt(hi)}`;
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function fillTable(tbody, rows, columns) {
    tbody.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement("tr");
      for (const c of columns) cell(tr, c(r));
      tbody.appendChild(tr);
    }
  }

  function progress(done, total, text) {
    document.getElementById("progress-fill").style.width = total ? `${Math.min(100, 100 * done / total)}%` : "0%";
    document.getElementById("progress").textContent = text;
  }

  function loadImage(url) {
    return new Promise((resolve) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => resolve(null);
      img.src = url;
    });
  }

  function strokeBox(ctx, box, scale, colour, dx = 0, dy = 0) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    const [x1, y1, x2, y2] = box;
    ctx.strokeRect((x1 - dx) * scale - 2, (y1 - dy) * scale - 2, (x2 - x1) * scale + 4, (y2 - y1) * scale + 4);
  }

  // The whole image scaled into the canvas, with a box.
  function drawWhole(canvas, img, info, box, colour = "#ff0") {
    const scale = Math.min(canvas.width / info.width, canvas.height / info.height);
    canvas.height = Math.round(info.height * scale);
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (img) ctx.drawImage(img, 0, 0, info.width * scale, info.height * scale);
    else missing(ctx, canvas);
    if (box) strokeBox(ctx, box, scale, colour);
  }

  // A square crop around the box, magnified (pixels kept sharp).
  function drawCrop(canvas, img, box) {
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = "#222";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!img) { missing(ctx, canvas); return; }
    const [x1, y1, x2, y2] = box;
    const side = Math.max(40, 4 * Math.max(x2 - x1, y2 - y1));
    const sx = (x1 + x2) / 2 - side / 2, sy = (y1 + y2) / 2 - side / 2;
    const scale = canvas.width / side;
    ctx.drawImage(img, sx, sy, side, side, 0, 0, canvas.width, canvas.height);
    strokeBox(ctx, box, scale, "#ff0", sx, sy);
  }

  function missing(ctx, canvas) {
    ctx.fillStyle = "#444";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#ddd";
    ctx.fillText("image file missing", 10, 20);
  }

  return { clientId, reviewer, api, toast, fmt, interval, fillTable, progress, loadImage, drawWhole, drawCrop,
           strokeBox };
})();

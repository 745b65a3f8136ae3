"use strict";
// The audit queue: one image at a time; drag boxes around missed cameras, click boxes to reject
// or remove them, Enter saves, z undoes.
(() => {
  const canvas = document.getElementById("audit-canvas");
  const loupe = document.getElementById("loupe");
  const ctx = canvas.getContext("2d");
  const CLASSES = [null, "dome", "directed"];
  let item = null, img = null, scale = 1;
  let rejected = new Set(), added = [], drag = null, newClass = null, busy = false;

  function showState(state) {
    Review.progress(state.n_audited, state.n_audit_planned,
      `${state.n_audited} of ${state.n_audit_planned} images audited · ${state.n_audit_cameras} cameras in them`);
    document.getElementById("recall").textContent = state.recall === null ? "no cameras audited yet"
      : `${Review.fmt(state.recall)} (95% ${Review.interval(state.recall_lo, state.recall_hi)})`;
    Review.fillTable(document.querySelector("#recall-table tbody"), state.recall_rows, [
      (r) => r.bin, (r) => r.n, (r) => r.found, (r) => Review.fmt(r.found / r.n), (r) => Review.interval(r.lo, r.hi)]);
  }

  function toImage(event) {
    const rect = canvas.getBoundingClientRect();
    const sx = canvas.width / rect.width, sy = canvas.height / rect.height;
    return [(event.clientX - rect.left) * sx / scale, (event.clientY - rect.top) * sy / scale];
  }

  function inside(box, x, y, pad) {
    return x >= box[0] - pad && x <= box[2] + pad && y >= box[1] - pad && y <= box[3] + pad;
  }

  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!item) return;
    if (img) ctx.drawImage(img, 0, 0, item.image.width * scale, item.image.height * scale);
    for (const d of item.detections) {
      const off = rejected.has(d.detection_id);
      ctx.setLineDash(off ? [4, 3] : []);
      Review.strokeBox(ctx, d.box, scale, off ? "#f33" : "#3f3");
    }
    ctx.setLineDash([]);
    for (const box of added) Review.strokeBox(ctx, box, scale, "#fa0");
    if (drag && drag.moved) Review.strokeBox(ctx, normalise(drag.start, drag.end), scale, "#0ff");
    const kept = item.detections.length - rejected.size;
    document.getElementById("info").textContent =
      `Image ${item.position} of ${item.total} (${item.image.image_id}) · ${kept} detection(s) kept, ` +
      `${rejected.size} rejected, ${added.length} missed camera(s) added`;
  }

  function normalise(a, b) {
    const w = item.image.width, h = item.image.height;
    const clip = (v, hi) => Math.max(0, Math.min(hi, v));
    return [clip(Math.min(a[0], b[0]), w), clip(Math.min(a[1], b[1]), h),
            clip(Math.max(a[0], b[0]), w), clip(Math.max(a[1], b[1]), h)];
  }

  function drawLoupe(x, y) {
    const l = loupe.getContext("2d");
    l.imageSmoothingEnabled = false;
    l.fillStyle = "#222";
    l.fillRect(0, 0, loupe.width, loupe.height);
    if (!img) return;
    const side = 48;
    l.drawImage(img, x - side / 2, y - side / 2, side, side, 0, 0, loupe.width, loupe.height);
    l.strokeStyle = "#0ff";
    l.strokeRect(loupe.width / 2 - 1, loupe.height / 2 - 1, 2, 2);
  }

  async function show(data) {
    const message = document.getElementById("message");
    if (!data || data.done) {
      item = null;
      message.textContent = data ? data.message : "";
      canvas.hidden = true;
      return;
    }
    item = data;
    canvas.hidden = false;
    message.textContent = "";
    const before = data.previous || data.answer;  // after an undo: what the undone answer held
    rejected = new Set(before ? before.rejected : []);
    added = before ? before.added.map((b) => [...b]) : [];
    scale = Math.min(1.5, 960 / data.image.width);
    canvas.width = Math.round(data.image.width * scale);
    canvas.height = Math.round(data.image.height * scale);
    img = await Review.loadImage(data.image.url);
    draw();
  }

  async function next() {
    await show(await Review.api("GET", `/api/audit/next?client=${Review.clientId}`));
  }

  async function save() {
    if (!item || busy) return;
    const reviewer = Review.reviewer();
    if (!reviewer) return;
    busy = true;
    const result = await Review.api("POST", "/api/audit", {
      image_id: item.image_id, reviewer, rejected: [...rejected],
      added: added.map((b) => [...b.slice(0, 4), b[4] === undefined ? null : b[4]]) });
    if (result) {
      Review.toast(`saved: ${added.length} missed, ${rejected.size} rejected`);
      showState(result.state);
      await next();
    }
    busy = false;
  }

  async function undo() {
    if (busy) return;
    if (added.length) { added.pop(); draw(); Review.toast("removed your last box"); return; }
    const reviewer = Review.reviewer();
    if (!reviewer) return;
    busy = true;
    const result = await Review.api("POST", "/api/undo", { queue: "audit", reviewer });
    if (result) {
      showState(result.state);
      if (result.undone) {
        Review.toast("undone: that image is open again");
        const data = await Review.api("GET", `/api/audit/item/${encodeURIComponent(result.undone)}`);
        if (data) data.previous = result.previous;
        await show(data);
      } else Review.toast("nothing of yours to undo");
    }
    busy = false;
  }

  function setClass(name) {
    newClass = name;
    document.getElementById("new-class").textContent = name || "unknown";
  }

  canvas.addEventListener("mousedown", (event) => {
    if (!item || event.button !== 0) return;
    const p = toImage(event);
    drag = { start: p, end: p, moved: false };
  });
  canvas.addEventListener("mousemove", (event) => {
    if (!item) return;
    const p = toImage(event);
    drawLoupe(p[0], p[1]);
    if (!drag) return;
    drag.end = p;
    if (Math.hypot((p[0] - drag.start[0]) * scale, (p[1] - drag.start[1]) * scale) > 3) drag.moved = true;
    draw();
  });
  window.addEventListener("mouseup", (event) => {
    if (!drag || !item) return;
    const d = drag;
    drag = null;
    if (d.moved) {
      const box = normalise(d.start, d.end);
      if (box[2] - box[0] >= 1 && box[3] - box[1] >= 1) added.push([...box.map((v) => Math.round(v * 10) / 10), newClass]);
      draw();
      return;
    }
    const [x, y] = d.start, pad = 4 / scale;
    const hitAdded = added.findIndex((b) => inside(b, x, y, pad));
    if (hitAdded >= 0) { added.splice(hitAdded, 1); draw(); return; }
    const hit = item.detections.find((det) => inside(det.box, x, y, pad));
    if (hit) {
      if (rejected.has(hit.detection_id)) rejected.delete(hit.detection_id); else rejected.add(hit.detection_id);
      draw();
    }
  });

  document.getElementById("btn-save").addEventListener("click", save);
  document.getElementById("btn-undo").addEventListener("click", undo);
  document.getElementById("btn-clear").addEventListener("click", () => { added = []; draw(); });
  document.getElementById("btn-class").addEventListener("click",
    () => setClass(CLASSES[(CLASSES.indexOf(newClass) + 1) % CLASSES.length]));
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key === "enter") { event.preventDefault(); save(); }
    else if (key === "z") { event.preventDefault(); undo(); }
    else if (key === "d") setClass(newClass === "dome" ? null : "dome");
    else if (key === "b") setClass(newClass === "directed" ? null : "directed");
  });
  Review.api("GET", "/api/state").then((state) => { if (state) showState(state); });
  next();
})();

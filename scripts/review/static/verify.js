"use strict";
// The verify queue: one detection at a time; keys y d b n u answer, z undoes.
(() => {
  let item = null;
  let busy = false;

  function showState(state) {
    const done = state.n_verified + state.n_unsure;
    Review.progress(done, state.n_verify_planned,
      `${done} of ${state.n_verify_planned} detections answered (${state.n_unsure} unsure)`);
    document.getElementById("precision").textContent = state.precision === null ? "no answers yet"
      : `${Review.fmt(state.precision)} (95% ${Review.interval(state.precision_lo, state.precision_hi)})`;
    Review.fillTable(document.querySelector("#precision-table tbody"), state.precision_rows, [
      (r) => r.bin, (r) => r.n, (r) => r.real, (r) => Review.interval(r.lo, r.hi), (r) => r.detections]);
    if (state.verify_message) document.getElementById("message").textContent = state.verify_message;
  }

  async function refreshState() {
    const state = await Review.api("GET", "/api/state");
    if (state) showState(state);
  }

  async function show(data) {
    const message = document.getElementById("message");
    const views = document.getElementById("views");
    if (!data || data.done) {
      item = null;
      message.textContent = data ? data.message : "";
      views.hidden = true;
      document.getElementById("info").textContent = "";
      document.getElementById("others").replaceChildren();
      return;
    }
    item = data;
    views.hidden = false;
    message.textContent = "";
    const img = await Review.loadImage(data.image.url);
    Review.drawCrop(document.getElementById("crop"), img, data.box);
    Review.drawWhole(document.getElementById("whole"), img, data.image, data.box);
    let info = `Detection ${data.position} of ${data.total} · confidence ${Review.fmt(data.conf)} (bin ${data.bin})` +
      ` · model says ${data.class_name} · ${Review.fmt(data.size_px, 0)} px · image ${data.image.image_id}`;
    if (data.answer) info += ` · answered before: ${data.answer.answer}` +
      (data.answer.class_name ? ` (${data.answer.class_name})` : "") + ` by ${data.answer.reviewer}`;
    document.getElementById("info").textContent = info;
    const others = document.getElementById("others");
    others.replaceChildren();
    if (!data.other_views.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = data.camera_id < 0 ? "not among the located cameras (run `camcensus locate`)" : "seen in this view only";
      others.appendChild(p);
    }
    for (const view of data.other_views) {
      const figure = document.createElement("figure");
      const canvas = document.createElement("canvas");
      canvas.width = 200; canvas.height = 200;
      const caption = document.createElement("figcaption");
      caption.textContent = `${view.image_id} · conf ${Review.fmt(view.conf)}`;
      figure.append(canvas, caption);
      others.appendChild(figure);
      Review.loadImage(view.url).then((im) => Review.drawWhole(canvas, im, view, view.box));
    }
  }

  async function next() {
    await show(await Review.api("GET", `/api/verify/next?client=${Review.clientId}`));
  }

  async function answer(kind, className) {
    if (!item || busy) return;
    const reviewer = Review.reviewer();
    if (!reviewer) return;
    busy = true;
    const cls = kind === "camera" ? (className || (["dome", "directed"].includes(item.class_name) ? item.class_name : null)) : null;
    const result = await Review.api("POST", "/api/verify",
      { detection_id: item.detection_id, answer: kind, class_name: cls, reviewer });
    if (result) {
      Review.toast(`saved: ${kind}${cls ? " (" + cls + ")" : ""}`);
      showState(result.state);
      await next();
    }
    busy = false;
  }

  async function undo() {
    if (busy) return;
    const reviewer = Review.reviewer();
    if (!reviewer) return;
    busy = true;
    const result = await Review.api("POST", "/api/undo", { queue: "verify", reviewer });
    if (result) {
      showState(result.state);
      if (result.undone) {
        Review.toast("undone: answer it again");
        await show(await Review.api("GET", `/api/verify/item/${encodeURIComponent(result.undone)}`));
      } else {
        Review.toast("nothing of yours to undo");
      }
    }
    busy = false;
  }

  for (const button of document.querySelectorAll("#buttons button[data-answer]")) {
    button.addEventListener("click", () => answer(button.dataset.answer, button.dataset.class));
  }
  document.getElementById("btn-undo").addEventListener("click", undo);
  const keys = { y: ["camera", null], d: ["camera", "dome"], b: ["camera", "directed"], n: ["not", null],
                 u: ["unsure", null] };
  document.addEventListener("keydown", (event) => {
    if (event.target.tagName === "INPUT" || event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key.toLowerCase();
    if (key in keys) { event.preventDefault(); answer(...keys[key]); }
    else if (key === "z") { event.preventDefault(); undo(); }
  });
  refreshState();
  next();
})();

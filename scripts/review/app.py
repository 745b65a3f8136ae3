"""The review web app (Flask): two queues, verify and audit, over a survey directory.

Pages: ``/verify``, ``/audit``. JSON API: ``GET /api/state``, ``GET /api/verify/next``,
``GET /api/verify/item/ID``, ``POST /api/verify``, ``GET /api/audit/next``,
``GET /api/audit/item/ID``, ``POST /api/audit``, ``POST /api/undo``. Images: ``/image/ID``
(only files of images.parquet that lie inside the survey directory). The page's own JS and
CSS come from ``/static``; nothing is loaded from elsewhere.

Every answer is checked before anything is written: a malformed body is a 400, an id that is
not in the review's sample a 404, each with ``{"error": "..."}``.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from flask import Flask, abort, jsonify, redirect, render_template, request, send_file

from scripts.review.calibration import prior_recall_of, review_summary, wilson_interval
from scripts.review.sampling import (
    DEFAULT_TARGET,
    ReviewDesign,
    bin_index,
    cameras_needed,
    encounter_limit_of,
    extend_audit,
    open_design,
    sample_size_for_relative_half_width,
)
from scripts.review.store import CLASS_NAMES, VERIFY_ANSWERS, AnswerStore
from scripts.review.tables import SurveyTables

MAX_REVIEWER = 80
MAX_ADDED_BOXES = 200
LEASE_S = 120.0  # an item shown in one tab is not handed to another for this long


class BadRequest(Exception):
    """A request the app refuses with ``status`` and a one-line ``message``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Review:
    """What one running app holds: the survey's tables, the design and the answer store."""

    tables: SurveyTables
    design: ReviewDesign
    store: AnswerStore
    default_reviewer: str

    def __post_init__(self) -> None:
        self._leases: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.verify_set = set(self.design.verify_ids)
        self.audit_set = set(self.design.audit_ids)

    # --- queues ------------------------------------------------------------------------------
    def next_item(self, queue: str, client: str) -> str | None:
        """The first item of the queue's sample with no answer, skipping items another tab holds."""
        order = self.design.verify_ids if queue == "verify" else self.design.audit_ids
        answered = self.store.standing(queue)
        now = time.monotonic()
        with self._lock:
            for item in order:
                if item in answered:
                    continue
                holder = self._leases.get((queue, item))
                if holder and holder[0] != client and now - holder[1] < LEASE_S:
                    continue
                self._leases[(queue, item)] = (client, now)
                return item
            for item in order:  # every open item is held by another tab: share one
                if item not in answered:
                    return item
        if queue == "audit" and self.grow_audit():
            return self.next_item(queue, client)
        return None

    def grow_audit(self) -> bool:
        """Extend an adaptive audit that holds too few cameras yet (see sampling.extend_audit)."""
        with self._lock:
            summary = review_summary(self.tables.survey_dir, tables=self.tables, design=self.design,
                                     store=self.store)
            if summary["n_audited"] < self.design.n_audit:
                return False
            grown = extend_audit(self.design, self.tables.survey_dir, n_cameras=summary["n_audit_cameras"],
                                 recall=summary.get("recall"))
            if grown is None:
                return False
            self.design = grown
            self.audit_set = set(grown.audit_ids)
            return True

    def image_json(self, image_id: str) -> dict:
        img = self.tables.images.loc[image_id]
        return {"image_id": image_id, "url": "/image/" + quote(image_id, safe=""),
                "width": int(img["width"]), "height": int(img["height"]),
                "heading": _num(img.get("heading")), "available": self.tables.image_file(image_id) is not None}

    def verify_item(self, detection_id: str) -> dict:
        det = self.tables.detections.loc[detection_id]
        ids = self.design.verify_ids
        others = []
        camera_id = int(det["camera_id"])
        if camera_id >= 0:
            all_det = self.tables.detections
            same = all_det[(all_det["camera_id"] == camera_id) & (all_det["image_id"] != det["image_id"])]
            for image_id, group in same.groupby("image_id", sort=False):
                best = group.sort_values("conf", ascending=False).iloc[0]
                others.append({**self.image_json(str(image_id)), "box": _box(best), "conf": float(best["conf"])})
        b = int(bin_index([float(det["conf"])], self.design.edges)[0])
        standing = self.store.standing("verify").get(detection_id)
        return {"queue": "verify", "detection_id": detection_id, "position": ids.index(detection_id) + 1,
                "total": len(ids), "conf": round(float(det["conf"]), 4), "class_name": str(det["class_name"]),
                "size_px": round(float(det["size_px"]), 1), "box": _box(det),
                "bin": f"{self.design.edges[b]:.2f}-{self.design.edges[b + 1]:.2f}",
                "image": self.image_json(str(det["image_id"])), "camera_id": camera_id, "other_views": others[:8],
                "answer": None if standing is None else {"answer": standing.answer, "class_name": standing.class_name,
                                                          "reviewer": standing.reviewer}}

    def audit_item(self, image_id: str) -> dict:
        ids = self.design.audit_ids
        dets = self.tables.detections_in(image_id)
        standing = self.store.standing("audit").get(image_id)
        return {"queue": "audit", "image_id": image_id, "position": ids.index(image_id) + 1, "total": len(ids),
                "image": self.image_json(image_id),
                "detections": [{"detection_id": str(i), "box": _box(r), "conf": round(float(r["conf"]), 4),
                                "class_name": str(r["class_name"])} for i, r in dets.iterrows()],
                "answer": None if standing is None else {"rejected": standing.rejected, "added": standing.added,
                                                          "reviewer": standing.reviewer}}

    # --- answers -----------------------------------------------------------------------------
    def add_verify(self, body: dict) -> int:
        reviewer = _reviewer(body)
        detection_id = _text(body, "detection_id")
        answer = _text(body, "answer")
        if answer not in VERIFY_ANSWERS:
            raise BadRequest(f"answer must be one of {', '.join(VERIFY_ANSWERS)}")
        class_name = body.get("class_name")
        if class_name is not None and class_name not in CLASS_NAMES:
            raise BadRequest(f"class_name must be one of {', '.join(CLASS_NAMES)} or null")
        if detection_id not in self.verify_set:
            raise BadRequest(f"unknown detection id (not in this review's sample): {detection_id}", 404)
        if answer != "camera":
            class_name = None
        return self.store.add("verify", detection_id, answer, reviewer=reviewer, class_name=class_name)

    def add_audit(self, body: dict) -> int:
        reviewer = _reviewer(body)
        image_id = _text(body, "image_id")
        if image_id not in self.audit_set:
            raise BadRequest(f"unknown image id (not in this review's sample): {image_id}", 404)
        rejected = body.get("rejected", [])
        if not isinstance(rejected, list) or not all(isinstance(r, str) for r in rejected):
            raise BadRequest("rejected must be a list of detection ids")
        known = set(self.tables.detections_in(image_id).index)
        unknown = [r for r in rejected if r not in known]
        if unknown:
            raise BadRequest(f"rejected names detections not in this image: {', '.join(unknown[:3])}")
        added = body.get("added", [])
        if not isinstance(added, list) or len(added) > MAX_ADDED_BOXES:
            raise BadRequest(f"added must be a list of at most {MAX_ADDED_BOXES} boxes")
        img = self.tables.images.loc[image_id]
        boxes = [_checked_box(b, int(img["width"]), int(img["height"])) for b in added]
        return self.store.add("audit", image_id, "done", reviewer=reviewer, rejected=sorted(set(rejected)),
                              added=boxes)

    def undo(self, body: dict) -> dict:
        reviewer = _reviewer(body)
        queue = _text(body, "queue")
        if queue not in ("verify", "audit"):
            raise BadRequest("queue must be verify or audit")
        undone = self.store.undo(queue, reviewer=reviewer)
        if undone is None:
            return {"undone": None, "previous": None}
        return {"undone": undone.item_id, "previous": {"answer": undone.answer, "class_name": undone.class_name,
                                                       "rejected": undone.rejected, "added": undone.added}}

    # --- figures -----------------------------------------------------------------------------
    def state(self) -> dict:
        summary = review_summary(self.tables.survey_dir, tables=self.tables, design=self.design, store=self.store)
        bins = summary["precision_bins"]
        prec_rows = []
        for i in range(len(bins["n"])):
            lo, hi = wilson_interval(bins["real"][i], bins["n"][i])
            prec_rows.append({"bin": f"{bins['edges'][i]:.2f}-{bins['edges'][i + 1]:.2f}", "n": bins["n"][i],
                              "real": bins["real"][i], "unsure": bins["n_unsure"][i],
                              "detections": bins["population"][i], "lo": _num(lo), "hi": _num(hi)})
        rec = summary["recall_bins"]
        rec_rows = []
        for i in range(len(rec["n"])):
            if rec["n"][i]:
                lo, hi = wilson_interval(rec["found"][i], rec["n"][i])
                rec_rows.append({"bin": _size_label(rec["edges_px"], i), "n": rec["n"][i], "found": rec["found"][i],
                                 "lo": _num(lo), "hi": _num(hi)})
        return {**summary, "precision_rows": prec_rows, "recall_rows": rec_rows,
                "verify_message": self.verify_message(), "n_detections": len(self.tables.detections),
                "n_images": len(self.tables.images)}

    def verify_message(self) -> str | None:
        if not self.design.verify_order:
            if not self.tables.has_detections:
                return "This survey has no detections: nothing to verify. Run `camcensus detect` first."
            return (f"This survey has no detections at confidence {self.design.conf_threshold:.2f} or more: "
                    "nothing to verify. The audit queue still measures recall.")
        return None


def add_errors_and_headers(app: Flask) -> None:
    """The app's error replies (JSON under /api/, one line of text elsewhere) and its security and
    cache headers."""

    @app.errorhandler(BadRequest)
    def bad_request(error: BadRequest):
        return jsonify(error=str(error)), error.status

    @app.errorhandler(404)
    def not_found(error):
        if request.path.startswith("/api/"):
            return jsonify(error="not found"), 404
        return "not found", 404, {"Content-Type": "text/plain; charset=utf-8"}

    @app.errorhandler(413)
    def too_large(error):
        return jsonify(error="request body too large"), 413

    @app.after_request
    def headers(response):
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store" if request.path.startswith("/api/") else "no-cache"
        return response


def create_app(survey_dir: str | Path, *, conf: float | None = None, target_half_width: float = DEFAULT_TARGET,
               n_verify: int | None = None, n_audit: int | None = None, seed: int = 0,
               reviewer: str = "") -> Flask:
    """The review app for ``survey_dir`` (reads or writes its design, opens its answer store)."""
    tables = SurveyTables.open(survey_dir, conf=conf)
    limit = encounter_limit_of(survey_dir, target=target_half_width)  # what the survey's size leaves reachable
    design = open_design(tables, target_half_width=target_half_width, n_verify=n_verify, n_audit=n_audit,
                         seed=seed, prior_recall=prior_recall_of(survey_dir),
                         sizing_half_width=limit.sizing_half_width if limit is not None else None)
    review = Review(tables=tables, design=design, store=AnswerStore.of_survey(survey_dir),
                    default_reviewer=reviewer)
    here = Path(__file__).parent
    app = Flask(__name__, static_folder=str(here / "static"), template_folder=str(here / "templates"))
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    app.url_map.merge_slashes = False  # "/image//etc/x" is an unknown id (404), not a redirect
    app.extensions["review"] = review
    page = {"survey": tables.survey_dir.resolve().name, "design": design, "reviewer": reviewer,
            "needed": cameras_needed(design),
            "needed_verify": sample_size_for_relative_half_width(design.target_half_width, p=0.5)
            if design.relative_target else None}
    add_errors_and_headers(app)

    @app.get("/")
    def index():
        return redirect("/verify")

    @app.get("/verify")
    def verify_page():
        return render_template("verify.html", queue="verify", message=review.verify_message(), **page)

    @app.get("/audit")
    def audit_page():
        return render_template("audit.html", queue="audit", message=None, **page)

    @app.get("/image/<path:image_id>")
    def image(image_id: str):
        path = review.tables.image_file(image_id)
        if path is None:
            abort(404)
        return send_file(path, max_age=3600)

    @app.get("/api/state")
    def state():
        return jsonify(review.state())

    @app.get("/api/<queue>/next")
    def next_item(queue: str):
        if queue not in ("verify", "audit"):
            abort(404)
        item = review.next_item(queue, request.args.get("client", ""))
        if item is None:
            message = review.verify_message() if queue == "verify" else None
            if message is None:
                message = ("Every item of this queue's sample has an answer." if
                           (review.design.verify_ids if queue == "verify" else review.design.audit_ids)
                           else "This queue's sample is empty.")
            return jsonify(done=True, message=message)
        return jsonify(review.verify_item(item) if queue == "verify" else review.audit_item(item))

    @app.get("/api/verify/item/<item_id>")
    def verify_item(item_id: str):
        if item_id not in review.verify_set:
            raise BadRequest(f"unknown detection id (not in this review's sample): {item_id}", 404)
        return jsonify(review.verify_item(item_id))

    @app.get("/api/audit/item/<path:item_id>")
    def audit_item(item_id: str):
        if item_id not in review.audit_set:
            raise BadRequest(f"unknown image id (not in this review's sample): {item_id}", 404)
        return jsonify(review.audit_item(item_id))

    @app.post("/api/verify")
    def post_verify():
        seq = review.add_verify(_json_body())
        return jsonify(seq=seq, state=review.state())

    @app.post("/api/audit")
    def post_audit():
        seq = review.add_audit(_json_body())
        return jsonify(seq=seq, state=review.state())

    @app.post("/api/undo")
    def post_undo():
        undone = review.undo(_json_body())
        return jsonify(**undone, state=review.state())

    return app


def serve(app: Flask, *, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True,
          announce=print) -> None:
    """Serve ``app`` (threaded, so that two tabs are served at once) until interrupted."""
    from werkzeug.serving import make_server

    from geo.errors import GeoInputError

    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as error:
        raise GeoInputError(f"cannot listen on {host}:{port} ({error.strerror or error}); "
                            "pass another --port") from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.server_port}/verify"
    announce(f"review at {url}  (answers are saved on every click; Ctrl-C stops)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        announce(f"warning: listening on {host}: anyone who can reach it can read the images and answer")
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.serve_forever()
    finally:
        server.server_close()


# --- request checks ----------------------------------------------------------------------------

def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _text(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{key} is missing or not a string")
    return value


def _reviewer(body: dict) -> str:
    value = body.get("reviewer")
    if not isinstance(value, str) or not value.strip():
        raise BadRequest("reviewer is missing: give your name")
    value = value.strip()
    if len(value) > MAX_REVIEWER or any(ord(c) < 32 for c in value):
        raise BadRequest(f"reviewer must be at most {MAX_REVIEWER} printable characters")
    return value


def _checked_box(box, width: int, height: int) -> list:
    if not isinstance(box, list) or len(box) not in (4, 5):
        raise BadRequest("each added box must be [x1, y1, x2, y2] or [x1, y1, x2, y2, class]")
    coords = box[:4]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in coords):
        raise BadRequest("box coordinates must be finite numbers (pixels)")
    x1, y1, x2, y2 = (float(v) for v in coords)
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        raise BadRequest(f"box {[x1, y1, x2, y2]} is not inside the {width}x{height} px image with x1 < x2, y1 < y2")
    class_name = box[4] if len(box) == 5 else None
    if class_name is not None and class_name not in CLASS_NAMES:
        raise BadRequest(f"box class must be one of {', '.join(CLASS_NAMES)} or null")
    return [round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1), class_name]


def _box(row) -> list[float]:
    return [round(float(row["x1"]), 1), round(float(row["y1"]), 1), round(float(row["x2"]), 1),
            round(float(row["y2"]), 1)]


def _num(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return round(value, 4) if math.isfinite(value) else None


def _size_label(edges: list[float], i: int) -> str:
    lo, hi = edges[i], edges[i + 1]
    return f"{lo:g}-{hi:g} px" if hi < 10_000 else f">{lo:g} px"

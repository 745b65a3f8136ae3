"""`camcensus review DIR --oracle truth`: answer both queues from the simulator's truth boxes,
for validation and the demo. It writes the same rows a person would (reviewer "oracle:truth").

Matching, within one image: a detection and a truth box match when their IoU is at least 0.3,
or when the detection's centre lies within max(3 px, half the truth box's side sqrt(w*h)) of
the truth box's centre (camera boxes are often under 10 px, where one pixel of offset already
costs a lot of IoU).
- verify: "camera" when the detection matches any truth box (class: the best match's class,
  by IoU, then centre distance), else "not".
- audit: detections and truth boxes are paired one to one, best pairs first; a detection left
  without a truth box is rejected (not a camera, or a second box on one camera), a truth box
  left without a detection is added as a missed camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.errors import GeoInputError
from scripts.review.sampling import ReviewDesign
from scripts.review.store import AnswerStore
from scripts.review.tables import SurveyTables

ORACLE_REVIEWER = "oracle:truth"
MIN_IOU = 0.3
MIN_CENTRE_PX = 3.0


@dataclass
class OracleResult:
    n_verified: int  # answers written now
    n_audited: int
    n_skipped: int  # items of the sample that already had an answer


def match_scores(det: pd.DataFrame, truth: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(IoU, matches) matrices, detections x truth boxes of one image (see the module docstring)."""
    d = det[["x1", "y1", "x2", "y2"]].to_numpy(float)
    t = truth[["x1", "y1", "x2", "y2"]].to_numpy(float)
    ix = np.clip(np.minimum(d[:, None, 2], t[None, :, 2]) - np.maximum(d[:, None, 0], t[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(d[:, None, 3], t[None, :, 3]) - np.maximum(d[:, None, 1], t[None, :, 1]), 0, None)
    inter = ix * iy
    area_d = (d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1])
    area_t = (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])
    iou = inter / np.maximum(area_d[:, None] + area_t[None, :] - inter, 1e-9)
    dist = np.hypot((d[:, None, 0] + d[:, None, 2] - t[None, :, 0] - t[None, :, 2]) / 2,
                    (d[:, None, 1] + d[:, None, 3] - t[None, :, 1] - t[None, :, 3]) / 2)
    reach = np.maximum(MIN_CENTRE_PX, 0.5 * np.sqrt(np.clip(area_t, 0, None)))[None, :]
    return iou, (iou >= MIN_IOU) | (dist <= reach)


def _score(iou: np.ndarray, ok: np.ndarray) -> np.ndarray:
    return np.where(ok, iou + 1.0, -1.0)  # any match beats none; IoU orders the matches


def verify_answer(det: pd.Series, truth: pd.DataFrame) -> tuple[str, str | None]:
    """(answer, class) for one detection against its image's truth boxes."""
    if truth is None or not len(truth):
        return "not", None
    iou, ok = match_scores(det.to_frame().T, truth)
    if not ok.any():
        return "not", None
    best = int(np.argmax(_score(iou, ok)[0]))
    return "camera", str(truth["class_name"].iloc[best])


def audit_answer(dets: pd.DataFrame, truth: pd.DataFrame) -> tuple[list[str], list[list]]:
    """(rejected detection ids, added boxes [x1, y1, x2, y2, class]) for one image."""
    truth = truth if truth is not None else pd.DataFrame(columns=["x1", "y1", "x2", "y2", "class_name"])
    paired_d, paired_t = set(), set()
    if len(dets) and len(truth):
        iou, ok = match_scores(dets, truth)
        score = _score(iou, ok)
        for flat in np.argsort(-score, axis=None):
            i, j = np.unravel_index(flat, score.shape)
            if score[i, j] < 0:
                break
            if i not in paired_d and j not in paired_t:
                paired_d.add(int(i))
                paired_t.add(int(j))
    rejected = [str(dets.index[i]) for i in range(len(dets)) if i not in paired_d]
    added = [[float(r.x1), float(r.y1), float(r.x2), float(r.y2), str(r.class_name)]
             for j, r in enumerate(truth.itertuples(index=False)) if j not in paired_t]
    return rejected, added


def review_with_oracle(tables: SurveyTables, design: ReviewDesign, store: AnswerStore) -> OracleResult:
    """Answer the design's verify and audit samples from truth_boxes.parquet (items that already
    have an answer are kept as they are)."""
    truth = tables.truth_boxes
    if truth is None:
        raise GeoInputError(f"--oracle truth needs {tables.survey_dir / 'truth_boxes.parquet'}: "
                            "only simulated surveys (--provider simulated) have it")
    truth_by_image = {k: g.reset_index(drop=True) for k, g in truth.groupby("image_id")}
    have_v, have_a = store.standing("verify"), store.standing("audit")
    rows, skipped = [], 0
    det = tables.detections
    for detection_id in design.verify_ids:
        if detection_id in have_v:
            skipped += 1
            continue
        d = det.loc[detection_id]
        answer, class_name = verify_answer(d[["x1", "y1", "x2", "y2"]].astype(float), truth_by_image.get(d["image_id"]))
        rows.append({"queue": "verify", "item_id": detection_id, "answer": answer, "class_name": class_name,
                     "reviewer": ORACLE_REVIEWER})
    n_verified = len(rows)
    for image_id in design.audit_ids:
        if image_id in have_a:
            skipped += 1
            continue
        rejected, added = audit_answer(tables.detections_in(image_id), truth_by_image.get(image_id))
        rows.append({"queue": "audit", "item_id": image_id, "answer": "done", "rejected": rejected,
                     "added": added, "reviewer": ORACLE_REVIEWER})
    store.add_many(rows)
    return OracleResult(n_verified=n_verified, n_audited=len(rows) - n_verified, n_skipped=skipped)


def oracle_review(survey_dir, *, n_verify: int | None = None, n_audit: int | None = None, conf: float | None = None,
                  target_half_width: float | None = None, seed: int = 0) -> tuple[OracleResult, dict]:
    """Open (or design) the survey's review, answer it from the truth; return what was written
    and the review's summary (scripts.review.calibration.review_summary)."""
    from scripts.review.calibration import prior_recall_of, review_summary
    from scripts.review.sampling import DEFAULT_TARGET, encounter_limit_of, extend_audit, open_design

    tables = SurveyTables.open(survey_dir, conf=conf)
    if tables.truth_boxes is None:  # before writing a design
        raise GeoInputError(f"--oracle truth needs {tables.survey_dir / 'truth_boxes.parquet'}: "
                            "only simulated surveys (--provider simulated) have it")
    target = DEFAULT_TARGET if target_half_width is None else target_half_width
    limit = encounter_limit_of(survey_dir, target=target)  # what the survey's size leaves reachable
    design = open_design(tables, target_half_width=target, n_verify=n_verify, n_audit=n_audit, seed=seed,
                         prior_recall=prior_recall_of(survey_dir),
                         sizing_half_width=limit.sizing_half_width if limit is not None else None)
    store = AnswerStore.of_survey(survey_dir)
    result = review_with_oracle(tables, design, store)
    summary = review_summary(survey_dir, tables=tables, design=design, store=store)
    while (grown := extend_audit(design, survey_dir, n_cameras=summary["n_audit_cameras"],
                                 recall=summary.get("recall"))) is not None:
        design = grown  # an adaptive audit: go on until the audited images hold enough cameras
        more = review_with_oracle(tables, design, store)
        result = OracleResult(n_verified=result.n_verified, n_audited=result.n_audited + more.n_audited,
                              n_skipped=result.n_skipped)
        summary = review_summary(survey_dir, tables=tables, design=design, store=store)
    return result, summary

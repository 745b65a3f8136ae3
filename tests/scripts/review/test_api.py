"""The review app's HTTP API, in-process (Flask's test client) and on a real threaded server."""

from __future__ import annotations

import json
import shutil
import threading

import httpx
import pandas as pd
import pytest

from scripts.review import calibration_from_review
from scripts.review.app import create_app
from scripts.review.sampling import read_design
from scripts.review.store import AnswerStore
from tests.scripts.review.survey import make_review_survey, serving


def _truth_keys(survey) -> set:
    boxes = pd.read_parquet(survey / "truth_boxes.parquet")
    return {(r.image_id, round(r.x1, 1), round(r.y1, 1)) for r in boxes.itertuples()}


def _is_true(item: dict, truth: set) -> bool:
    return (item["image"]["image_id"], round(item["box"][0], 1), round(item["box"][1], 1)) in truth


def test_a_review_from_start_to_finish(survey):
    app = create_app(survey, n_verify=8, n_audit=5, reviewer="ann")
    client = app.test_client()
    truth = _truth_keys(survey)
    answered = []
    while True:
        item = client.get("/api/verify/next?client=t").get_json()
        if item.get("done"):
            break
        answer = "camera" if _is_true(item, truth) else "not"
        assert item["image"]["url"].startswith("/image/") and client.get(item["image"]["url"]).status_code == 200
        reply = client.post("/api/verify", json={"detection_id": item["detection_id"], "answer": answer,
                                                 "class_name": "dome" if answer == "camera" else None,
                                                 "reviewer": "ann"})
        assert reply.status_code == 200
        answered.append(answer)
    assert len(answered) == 8 and "answer" in item["message"]
    state = reply.get_json()["state"]
    assert state["n_verified"] == 8
    real = sum(a == "camera" for a in answered)
    assert sum(row["real"] for row in state["precision_rows"]) == real
    assert 0 <= state["precision_lo"] <= state["precision"] <= state["precision_hi"] <= 1
    audited = 0
    while True:
        item = client.get("/api/audit/next?client=t").get_json()
        if item.get("done"):
            break
        boxes = [[10, 10, 20, 22, "dome"]] if audited == 0 else []
        rejected = [d["detection_id"] for d in item["detections"][:1]]
        reply = client.post("/api/audit", json={"image_id": item["image_id"], "reviewer": "ann",
                                                "rejected": rejected, "added": boxes})
        assert reply.status_code == 200
        audited += 1
    assert audited == 5
    state = client.get("/api/state").get_json()
    assert state["n_audited"] == 5 and state["n_audit_cameras"] >= 1
    calibration = calibration_from_review(survey)
    assert calibration["source"] == "review" and calibration["n_verified"] == 8 and calibration["n_audited"] == 5
    assert sum(calibration["precision_bins"]["real"]) == real
    assert calibration["precision_bins"]["edges"][0] == calibration["conf_threshold"]
    assert calibration["precision_bins"]["edges"][-1] == 1.0
    assert sum(calibration["recall_bins"]["n"]) == state["n_audit_cameras"]
    assert calibration["recall_bins"]["n"][2] >= 1  # the added 10 x 12 px box: sqrt(120) = 11 px, bin 8-12
    rows = AnswerStore.of_survey(survey).rows()
    assert len(rows) == 13 and all(r.reviewer == "ann" and r.time.endswith("+00:00") for r in rows)


def test_a_review_resumes_after_a_restart(survey):
    first = create_app(survey, n_verify=10, n_audit=3).test_client()
    seen = []
    for _ in range(3):
        item = first.get("/api/verify/next?client=a").get_json()
        seen.append(item["detection_id"])
        first.post("/api/verify", json={"detection_id": item["detection_id"], "answer": "not", "reviewer": "bo"})
    design = read_design(survey)
    again = create_app(survey).test_client()  # a new process: the stored design, the stored answers
    assert read_design(survey) == design
    state = again.get("/api/state").get_json()
    assert state["n_verified"] == 3 and state["n_verify_planned"] == 10
    item = again.get("/api/verify/next?client=b").get_json()
    assert item["detection_id"] == design.verify_ids[3] and item["detection_id"] not in seen
    assert item["position"] == 4
    longer = create_app(survey, n_verify=12)  # a larger sample extends the same order
    assert read_design(survey).verify_ids[:10] == design.verify_ids and read_design(survey).n_verify == 12
    assert longer.extensions["review"].design.n_verify == 12


def test_two_reviewers_writing_at_once_lose_no_answer(survey):
    app = create_app(survey, n_verify=20, n_audit=10)
    ids = app.extensions["review"].design.verify_ids
    images = app.extensions["review"].design.audit_ids
    errors = []

    def reviewer(name: str, url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for i, item in enumerate(ids):
                r = http.post("/api/verify", json={"detection_id": item, "answer": ("camera", "not")[i % 2],
                                                   "reviewer": name})
                errors.extend([r.text] if r.status_code != 200 else [])
            for image_id in images:
                r = http.post("/api/audit", json={"image_id": image_id, "reviewer": name, "added": [[1, 1, 9, 9]]})
                errors.extend([r.text] if r.status_code != 200 else [])

    with serving(app) as url:
        threads = [threading.Thread(target=reviewer, args=(name, url)) for name in ("ann", "bo")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert errors == []
    rows = AnswerStore.of_survey(survey).rows()
    assert len(rows) == 2 * (len(ids) + len(images))
    for name in ("ann", "bo"):
        mine = [r for r in rows if r.reviewer == name]
        assert sorted(r.item_id for r in mine if r.queue == "verify") == sorted(ids)
        assert sorted(r.item_id for r in mine if r.queue == "audit") == sorted(images)
    assert len({r.seq for r in rows}) == len(rows)


def test_two_tabs_are_handed_different_items(survey):
    client = create_app(survey, n_verify=5).test_client()
    a = client.get("/api/verify/next?client=tab1").get_json()["detection_id"]
    b = client.get("/api/verify/next?client=tab2").get_json()["detection_id"]
    assert a != b and client.get("/api/verify/next?client=tab1").get_json()["detection_id"] == a


BAD_VERIFY = [
    ("not json", 400), ([1, 2], 400), ({}, 400),
    ({"detection_id": "X", "answer": "camera", "reviewer": "ann"}, 404),
    ({"detection_id": None, "answer": "camera", "reviewer": "ann"}, 400),
    ({"detection_id": "ID", "answer": "maybe", "reviewer": "ann"}, 400),
    ({"detection_id": "ID", "answer": "camera", "class_name": "<dome>", "reviewer": "ann"}, 400),
    ({"detection_id": "ID", "answer": "camera", "reviewer": ""}, 400),
    ({"detection_id": "ID", "answer": "camera", "reviewer": "a\nb"}, 400),
    ({"detection_id": "ID", "answer": "camera", "reviewer": "x" * 200}, 400),
]
BAD_AUDIT = [
    ({"image_id": "nope", "reviewer": "ann"}, 404),
    ({"image_id": "IMG", "reviewer": "ann", "added": [[1, 2, 3]]}, 400),
    ({"image_id": "IMG", "reviewer": "ann", "added": [[5, 5, 1, 1]]}, 400),
    ({"image_id": "IMG", "reviewer": "ann", "added": [[1, 1, 5000, 5]]}, 400),
    ({"image_id": "IMG", "reviewer": "ann", "added": [["a", 1, 5, 5]]}, 400),
    ({"image_id": "IMG", "reviewer": "ann", "added": [[1, 1, 5, 5, "car"]]}, 400),
    ({"image_id": "IMG", "reviewer": "ann", "added": "box"}, 400),
    ({"image_id": "IMG", "reviewer": "ann", "rejected": ["not-a-detection"]}, 400),
    ({"image_id": "IMG", "reviewer": "ann", "rejected": "x"}, 400),
]


def test_malformed_posts_and_unknown_ids_are_refused_and_write_nothing(survey):
    app = create_app(survey, n_verify=5, n_audit=5)
    client = app.test_client()
    review = app.extensions["review"]
    good_id, good_image = review.design.verify_ids[0], review.design.audit_ids[0]
    store = AnswerStore.of_survey(survey)
    for body, status in BAD_VERIFY:
        if isinstance(body, dict):
            body = {k: (good_id if v == "ID" else v) for k, v in body.items()}
            reply = client.post("/api/verify", json=body)
        else:
            reply = client.post("/api/verify", data=body if isinstance(body, str) else json.dumps(body),
                                content_type="application/json")
        assert reply.status_code == status, body
        assert reply.is_json and reply.get_json()["error"], body
    for body, status in BAD_AUDIT:
        body = {k: (good_image if v == "IMG" else v) for k, v in body.items()}
        reply = client.post("/api/audit", json=body)
        assert reply.status_code == status, body
        assert reply.get_json()["error"], body
    assert client.post("/api/undo", json={"queue": "elsewhere", "reviewer": "ann"}).status_code == 400
    assert client.post("/api/verify", data="x" * 400_000, content_type="application/json").status_code == 413
    assert client.get("/api/verify/item/unknown").status_code == 404
    assert client.get("/api/audit/item/unknown").status_code == 404
    assert client.get("/api/elsewhere/next").status_code == 404
    assert store.count() == 0
    # and nothing to undo writes nothing either
    assert client.post("/api/undo", json={"queue": "verify", "reviewer": "ann"}).get_json()["undone"] is None
    assert store.count() == 0


def test_undo_takes_back_only_the_reviewers_own_last_answer(survey):
    client = create_app(survey, n_verify=5).test_client()
    ids = [client.get(f"/api/verify/next?client={i}").get_json()["detection_id"] for i in range(2)]
    client.post("/api/verify", json={"detection_id": ids[0], "answer": "camera", "reviewer": "ann"})
    client.post("/api/verify", json={"detection_id": ids[1], "answer": "not", "reviewer": "bo"})
    reply = client.post("/api/undo", json={"queue": "verify", "reviewer": "ann"}).get_json()
    assert reply["undone"] == ids[0] and reply["state"]["n_verified"] == 1
    standing = AnswerStore.of_survey(survey).standing("verify")
    assert list(standing) == [ids[1]]
    assert [r.answer for r in AnswerStore.of_survey(survey).rows()] == ["camera", "not", "undo"]  # append-only


def test_image_urls_never_serve_anything_outside_the_survey(survey, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    images = pd.read_parquet(survey / "images.parquet")
    extra = images.iloc[:2].copy()
    extra["image_id"] = ["outside", "absolute"]
    extra["path"] = ["../secret.txt", str(secret)]
    pd.concat([images, extra]).to_parquet(survey / "images.parquet")
    client = create_app(survey, n_verify=3, n_audit=3).test_client()
    real = images.iloc[0]
    ok = client.get(f"/image/{real['image_id']}")
    assert ok.status_code == 200 and ok.data == (survey / real["path"]).read_bytes()
    for url in ["/image/outside", "/image/absolute", "/image/../secret.txt", "/image/..%2F..%2Fsecret.txt",
                "/image/%2e%2e/%2e%2e/secret.txt", "/image/" + str(secret), "/static/../app.py",
                "/static/%2e%2e/app.py", "/image/", "/image/nope"]:
        reply = client.get(url)
        assert reply.status_code == 404, url
        assert b"top secret" not in reply.data and b"def create_app" not in reply.data, url


def test_all_text_is_html_escaped(template_survey, tmp_path):
    evil = "s<img src=x onerror=alert(1)>"
    survey = tmp_path / evil
    shutil.copytree(template_survey, survey)
    client = create_app(survey, n_verify=3, n_audit=3, reviewer='"><script>alert(2)</script>').test_client()
    for url in ("/verify", "/audit"):
        html = client.get(url).get_data(as_text=True)
        assert "<img src=x" not in html and "<script>alert" not in html
        assert "s&lt;img src=x onerror=alert(1)&gt;" in html
        assert "&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html
    api = client.get("/api/state")
    assert api.mimetype == "application/json"  # data goes to the page as JSON, shown with textContent
    assert "script-src 'self'" in client.get("/verify").headers["Content-Security-Policy"]


def test_a_survey_without_detections_says_so(tmp_path):
    survey = tmp_path / "survey"
    make_review_survey(survey, with_detections=False)
    client = create_app(survey, n_audit=4).test_client()
    html = client.get("/verify").get_data(as_text=True)
    assert "no detections" in html and "camcensus detect" in html
    item = client.get("/api/verify/next").get_json()
    assert item["done"] and "no detections" in item["message"]
    audit = client.get("/api/audit/next").get_json()  # the audit queue still works
    assert audit["detections"] == []
    assert client.post("/api/audit", json={"image_id": audit["image_id"], "reviewer": "ann",
                                           "added": [[100, 100, 110, 110]]}).status_code == 200
    calibration = calibration_from_review(survey)
    assert calibration["n_verified"] == 0 and calibration["recall"] == 0.0 and calibration["precision"] is None


def test_a_survey_with_detections_below_the_threshold_only(survey):
    client = create_app(survey, conf=0.99).test_client()
    item = client.get("/api/verify/next").get_json()
    assert item["done"] and "0.99" in item["message"]


def test_no_review_means_no_calibration(survey):
    assert calibration_from_review(survey) is None
    create_app(survey)  # a design, but no answers yet
    assert calibration_from_review(survey) is None


@pytest.mark.parametrize("bad", ["missing"])
def test_a_missing_survey_is_a_clear_error(tmp_path, bad, capsys):
    from scripts.cli import main

    assert main(["review", str(tmp_path / bad), "--no-browser"]) == 2
    assert "not found" in capsys.readouterr().err


def test_answers_survive_a_killed_server(survey):
    """`camcensus review` in its own process, killed with SIGKILL after some answers: every answer
    the server acknowledged is on disk, and a new server resumes after them."""
    import os
    import signal
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "scripts.cli", "review", str(survey), "--port", "0",
                                "--no-browser", "--n-verify", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "YOLO_OFFLINE": "1"})
    try:
        line = process.stdout.readline()
        assert line.startswith("review at http://127.0.0.1:"), line + process.stderr.read()
        base = line.split()[2].rsplit("/", 1)[0]
        with httpx.Client(base_url=base, timeout=30) as http:
            assert http.get("/verify").status_code == 200
            acknowledged = []
            for _ in range(4):
                item = http.get("/api/verify/next?client=k").json()
                reply = http.post("/api/verify", json={"detection_id": item["detection_id"], "answer": "camera",
                                                       "reviewer": "kim"})
                assert reply.status_code == 200
                acknowledged.append(item["detection_id"])
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    standing = AnswerStore.of_survey(survey).standing("verify")
    assert sorted(standing) == sorted(acknowledged)
    again = create_app(survey).test_client()
    assert again.get("/api/state").get_json()["n_verified"] == 4
    assert again.get("/api/verify/next").get_json()["position"] == 5

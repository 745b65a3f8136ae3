"""The review page in a real browser (Debian's Chromium through Playwright, the shared `page`
fixture): keys and buttons answer, undo works, an audit box can be dragged, the answers land on
disk, the figures update, no request leaves the machine and the console stays clean."""

from __future__ import annotations

import shutil

from scripts.review.app import create_app
from scripts.review.store import AnswerStore
from tests.scripts.review.survey import serving


def _progress(page, text: str) -> None:
    page.wait_for_function("t => document.getElementById('progress').textContent.startsWith(t)", arg=text,
                           timeout=10_000)


def _showing(page, text: str) -> None:
    """Wait until the item text starts with ``text`` (the next item is loaded and drawn)."""
    page.wait_for_function("t => document.getElementById('info').textContent.startsWith(t)", arg=text,
                           timeout=10_000)


def _info(page) -> str:
    page.wait_for_function("() => document.getElementById('info').textContent.length > 0", timeout=10_000)
    return page.inner_text("#info")


def test_verify_by_keyboard_and_mouse_with_undo(page, survey):
    app = create_app(survey, n_verify=6, n_audit=3, reviewer="ann")
    store = AnswerStore.of_survey(survey)
    with serving(app) as url:
        page.goto(f"{url}/verify")
        assert page.input_value("#reviewer") == "ann"
        first = _info(page)
        assert first.startswith("Detection 1 of 6")
        page.keyboard.press("y")
        _progress(page, "1 of 6")
        _showing(page, "Detection 2 of 6")
        page.click("#btn-not")
        _showing(page, "Detection 3 of 6")
        page.keyboard.press("d")
        _showing(page, "Detection 4 of 6")
        page.click("#btn-unsure")
        _showing(page, "Detection 5 of 6")
        _progress(page, "4 of 6")
        assert page.inner_text("#precision").startswith("0.")  # 2 of 3 definite answers are cameras
        page.keyboard.press("z")  # takes back "unsure": detection 4 is shown again
        _progress(page, "3 of 6")
        _showing(page, "Detection 4 of 6")
        page.keyboard.press("b")
        _showing(page, "Detection 5 of 6")
        page.click("#btn-undo")
        _showing(page, "Detection 4 of 6")
        _progress(page, "3 of 6")
        page.keyboard.press("n")
        _showing(page, "Detection 5 of 6")
        _progress(page, "4 of 6")
        precision = page.inner_text("#precision")
        rows = page.locator("#precision-table tbody tr").count()
        assert page.external_requests == [] and page.console_errors == []
    answers = [(r.answer, r.class_name) for r in store.rows()]
    ids = app.extensions["review"].design.verify_ids
    assert answers == [("camera", _model_class(app, ids[0])), ("not", None), ("camera", "dome"), ("unsure", None),
                       ("undo", None), ("camera", "directed"), ("undo", None), ("not", None)]
    standing = store.standing("verify")
    assert [standing[i].answer for i in ids[:4]] == ["camera", "not", "camera", "not"]
    state = app.extensions["review"].state()
    assert precision.startswith(f"{state['precision']:.2f} (95% {state['precision_lo']:.2f}")
    assert rows == len(state["precision_rows"])


def _model_class(app, detection_id: str) -> str | None:
    name = app.extensions["review"].tables.detections.at[detection_id, "class_name"]
    return name if name in ("dome", "directed") else None


def test_an_audit_box_can_be_dragged_and_saved(page, survey):
    app = create_app(survey, n_verify=3, n_audit=4, reviewer="bo")
    store = AnswerStore.of_survey(survey)
    with serving(app) as url:
        page.goto(f"{url}/audit")
        assert _info(page).startswith("Image 1 of 4")
        item = app.extensions["review"].audit_item(app.extensions["review"].design.audit_ids[0])
        canvas = page.locator("#audit-canvas").bounding_box()
        scale = canvas["width"] / item["image"]["width"]
        x0, y0 = canvas["x"] + 100 * scale, canvas["y"] + 200 * scale  # image pixels (100, 200) ...
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(x0 + 20 * scale, y0 + 15 * scale, steps=6)  # ... to (120, 215)
        page.mouse.up()
        page.keyboard.press("d")
        assert "1 missed camera(s) added" in page.inner_text("#info")
        page.keyboard.press("Enter")
        _showing(page, "Image 2 of 4")
        kept = len(item["detections"])  # the audit draws images with a detection first more often
        _progress(page, f"1 of 4 images audited · {kept + 1} cameras")
        assert page.inner_text("#recall").startswith(f"{kept / (kept + 1):.2f}")
        assert page.locator("#recall-table tbody tr").count() >= 1
        page.click("#btn-save")  # the second image, nothing missed
        _showing(page, "Image 3 of 4")
        _progress(page, "2 of 4")
        page.keyboard.press("z")  # takes back the second image
        _showing(page, "Image 2 of 4")
        _progress(page, "1 of 4")
        assert page.external_requests == [] and page.console_errors == []
    audit = store.standing("audit")
    assert list(audit) == [item["image_id"]]
    (box,) = audit[item["image_id"]].added
    assert abs(box[0] - 100) <= 2 and abs(box[1] - 200) <= 2 and abs(box[2] - 120) <= 2 and abs(box[3] - 215) <= 2
    assert audit[item["image_id"]].reviewer == "bo"


def test_page_text_is_shown_as_text(page, template_survey, tmp_path):
    evil = "s<img src=x onerror=alert(1)>"
    survey = tmp_path / evil
    shutil.copytree(template_survey, survey)
    app = create_app(survey, n_verify=2, n_audit=2, reviewer="<b>ann</b>")
    with serving(app) as url:
        page.goto(f"{url}/verify")
        _info(page)
        assert page.inner_text("#survey-name") == evil
        assert page.input_value("#reviewer") == "<b>ann</b>"
        assert page.locator("img[src=x]").count() == 0 and page.locator("b").count() == 0
        page.keyboard.press("n")
        _progress(page, "1 of 2")
        assert page.external_requests == [] and page.console_errors == []
    assert AnswerStore.of_survey(survey).rows()[0].reviewer == "<b>ann</b>"


def test_two_open_tabs_review_different_detections(page, survey):
    app = create_app(survey, n_verify=6, n_audit=2, reviewer="ann")
    with serving(app) as url:
        page.goto(f"{url}/verify")
        _showing(page, "Detection 1 of 6")
        other = page.context.new_page()
        errors = []
        other.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        other.on("pageerror", lambda e: errors.append(str(e)))
        other.goto(f"{url}/verify")
        _showing(other, "Detection 2 of 6")  # the first is held by the first tab
        other.keyboard.press("n")
        _showing(other, "Detection 3 of 6")
        page.keyboard.press("y")
        _showing(page, "Detection 4 of 6")  # the next open one that the other tab does not hold
        other.reload()  # a reload keeps the tab's place: it still holds detection 3
        _showing(other, "Detection 3 of 6")
        assert page.external_requests == [] and page.console_errors == [] and errors == []
    standing = AnswerStore.of_survey(survey).standing("verify")
    ids = app.extensions["review"].design.verify_ids
    assert standing[ids[0]].answer == "camera" and standing[ids[1]].answer == "not" and len(standing) == 2

"""The tiny trained model really detects drawn objects (the fixture other tests rely on)."""

from tests.detector.conftest import TINY_IMGSZ, DrawnObject, object_image


def test_tiny_model_finds_a_drawn_disc_where_it_is(tiny_model):
    from ultralytics import YOLO

    image = object_image(128, 128, [DrawnObject(0, 40, 80, 36)])
    result = YOLO(str(tiny_model)).predict(image, imgsz=TINY_IMGSZ, conf=0.25, verbose=False)[0]
    assert result.names == {0: "dome", 1: "directed"}
    assert len(result.boxes) >= 1
    x1, y1, x2, y2 = result.boxes.xyxy[0].tolist()
    assert abs((x1 + x2) / 2 - 40) < 8 and abs((y1 + y2) / 2 - 80) < 8
    assert int(result.boxes.cls[0]) == 0

"""map.html in a real headless Chromium (tests/browser.py): it renders offline, draws its layers,
opens popups, escapes every text, and requests tiles only with a basemap."""

import html
import io
import json
import re

import numpy as np
import pytest

from geo.errors import GeoInputError
from geo.outputs.export import write_exports
from geo.outputs.mapview import basemap_from_spec, leaflet_assets, page_from_data, script_json, write_map_html
from tests.geo import map_fixtures as fx


@pytest.fixture
def demo_map(tmp_path):
    """map.html from the small generated frames, with streets, coverage, thumbnails and truth."""
    points, images, detections = fx.points_and_images(tmp_path)
    paths = write_exports(tmp_path, fx.areas(), cameras=fx.cameras(), streets=fx.streets(), points=points,
                          images=images, detections=detections, truth=fx.truth(), metres_per_point=100.0,
                          report={"total": {"est_cameras": 4.2, "est_lo": 1.0, "est_hi": 12.1, "road_km": 3.5,
                                            "surveyed_km": 2.5, "truth_cameras": 5.0},
                                  "parameters": {"area": fx.EVIL, "by": "h3:9"}})
    return paths["map.html"]


def _open(page, path):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_selector("path.cc-camera")
    page.wait_for_timeout(200)
    return dialogs


def _distinct_colours(png: bytes) -> int:
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


def test_map_renders_offline_with_its_layers(page, demo_map):
    dialogs = _open(page, demo_map)
    assert page.external_requests == [] and page.console_errors == [] and dialogs == []
    assert page.locator("path.cc-area").count() == 2
    assert page.locator("path.cc-street").count() == 3
    assert page.locator("path.cc-camera").count() == 2
    assert page.locator("path.cc-truth").count() == 3
    shot = page.screenshot()
    assert _distinct_colours(shot) > 50  # tiles of colour, lines, markers, text: not a blank page
    # the title carries the estimate with its interval; the legend its units
    assert "4 cameras (95% 1–12)" in page.locator("#title").inner_text()
    legend = page.locator(".cc-legend").inner_text()
    assert "estimated cameras per road km" in legend and "street coverage" in legend
    assert "true camera (simulated)" in legend
    # streets styled by coverage: the covered ones blue and thick, the uncovered one grey and thin
    widths = sorted(float(w) for w in page.locator("path.cc-street").evaluate_all(
        "els => els.map(e => e.getAttribute('stroke-width'))"))
    assert widths == [1.5, 3.5, 3.5]
    # cameras sized by confidence (0.9 vs 0.3) and coloured by class
    radii = page.evaluate("""() => { const out = [];
        window.camcensusMap.eachLayer(l => { if (l.options && l.options.className === 'cc-camera')
            out.push([l.getRadius(), l.options.fillColor]); }); return out; }""")
    assert len(radii) == 2 and radii[0][0] > radii[1][0] and radii[0][1] != radii[1][1]


def test_camera_popup_opens_on_click_with_its_thumbnail(page, demo_map):
    dialogs = _open(page, demo_map)
    page.locator("path.cc-camera").first.click(force=True)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "confidence" in text and "0.90" in text and "± 1.2 m" in text and "2" in text
    assert fx.EVIL in text  # the class name arrives as text, never as markup
    src = popup.locator("img").get_attribute("src")
    assert src.startswith("data:image/jpeg;base64,")
    assert page.locator(".leaflet-popup-content script").count() == 0
    assert dialogs == [] and page.console_errors == [] and page.external_requests == []


def test_area_popup_and_truth_layer_toggle(page, demo_map):
    _open(page, demo_map)
    page.locator("path.cc-area").nth(1).click(position={"x": 5, "y": 5}, force=True)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "Kallio" in popup.inner_text() and "estimated cameras" in popup.inner_text()
    page.locator(".leaflet-control-layers label", has_text="true cameras").locator("input").uncheck()
    assert page.locator("path.cc-truth").count() == 0
    page.locator(".leaflet-control-layers label", has_text="true cameras").locator("input").check()
    assert page.locator("path.cc-truth").count() == 3


def test_basemap_tiles_are_the_only_requests(page, tmp_path):
    url = "https://tiles.example.test/{z}/{x}/{y}.png"
    path = write_map_html(fx.areas(), tmp_path / "map.html", cameras=fx.cameras(), basemap=url)
    page.goto(path.as_uri())
    page.wait_for_selector("path.cc-camera")
    page.wait_for_timeout(300)
    assert page.external_requests, "the basemap's tiles were not requested"
    assert all(re.match(r"^https://tiles\.example\.test/\d+/\d+/\d+\.png$", u) for u in page.external_requests)


def test_basemap_is_off_by_default_and_checked():
    assert basemap_from_spec(None) is None and basemap_from_spec("none") is None
    osm = basemap_from_spec("osm")
    assert osm["url"].startswith("https://") and "{z}" in osm["url"] and "OpenStreetMap" in osm["attribution"]
    assert basemap_from_spec("OpenStreetMap.Mapnik")["url"] == osm["url"]
    with pytest.raises(GeoInputError, match="z"):
        basemap_from_spec("https://tiles.example.test/tile.png")
    with pytest.raises(GeoInputError, match="malformed"):  # nothing may slip into the page's CSP
        basemap_from_spec("https://a.test;script-src *;/{z}/{x}/{y}.png")
    with pytest.raises(GeoInputError, match="unknown --basemap"):
        basemap_from_spec("no.such.provider")


def test_page_embeds_leaflet_and_escapes_every_text(tmp_path, demo_map):
    version, js, css = leaflet_assets()
    assert re.match(r"^\d+\.\d+\.\d+$", version) and f"Leaflet {version}" in js[:200]
    assert "url(images/" not in css and "data:image/png;base64," in css
    page = demo_map.read_text(encoding="utf-8")
    assert js in page and "<script src" not in page and "<link rel=\"stylesheet\"" not in page
    ours = page.replace(js, "")  # (Leaflet's own code holds its home page's link, never followed)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", ours)  # nothing to fetch from anywhere
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1))
    assert "default-src 'none'" in csp and "img-src data:;" in csp and "connect-src 'none'" in csp
    assert fx.EVIL not in page and "<script>alert" not in page and "<img src=x" not in page
    assert "<title>Camera density: &lt;script&gt;alert(" in page
    block = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S).group(1)
    data = json.loads(block)
    assert data["areas"]["features"][0]["properties"]["title"] == fx.EVIL  # plain text, escaped by the page
    assert data["basemap"] is None
    assert script_json({"t": "</script><!--\u2028"}) == '{"t":"\\u003c/script\\u003e\\u003c!--\\u2028"}'


def test_page_with_nothing_but_empty_areas_still_renders(page, tmp_path):
    areas = fx.areas().assign(est_cameras=np.nan, per_road_km=np.nan)
    path = write_map_html(areas, tmp_path / "empty.html")
    page.goto(path.as_uri())
    page.wait_for_selector("path.cc-area")
    assert page.console_errors == [] and page.external_requests == []
    assert "no data" in page.locator(".cc-legend").inner_text()


def test_page_from_data_has_one_title(tmp_path):
    from geo.outputs.mapview import map_data

    text = page_from_data(map_data(fx.areas(), title="T <1>"))
    assert text.count("<title>") == 1 and "<title>T &lt;1&gt;</title>" in text


def test_many_features_draw_on_a_canvas(page, tmp_path, monkeypatch):
    import geo.outputs.mapview

    monkeypatch.setattr(geo.outputs.mapview, "CANVAS_ABOVE", 3)
    path = write_map_html(fx.areas(), tmp_path / "canvas.html", cameras=fx.cameras(), streets=fx.streets())
    page.goto(path.as_uri())
    page.wait_for_selector(".leaflet-overlay-pane canvas")
    assert page.locator("path.cc-camera").count() == 0  # no SVG paths: one canvas
    assert page.console_errors == [] and page.external_requests == []
    assert _distinct_colours(page.screenshot()) > 20


def _osm_table():
    """Four comparison rows, one per status, inside the fixture's areas."""
    import pandas as pd

    from tests.geo.counting.osm_scene import crop_uri

    base = {"camera_id": None, "osm_id": None, "p_real": np.nan, "p_find": np.nan, "class_name": None,
            "n_views": np.nan, "uncertainty_m": np.nan, "crops": [], "class_agree": None, "distance_m": np.nan,
            "suggested_tags": None}
    rows = [dict(base, status="confirmed", lon=24.9052, lat=60.1652, camera_id=0, osm_id="11", p_real=0.9,
                 p_find=0.7, class_name="dome", n_views=2, uncertainty_m=1.2, crops=[crop_uri()], class_agree=True,
                 distance_m=1.5),
            dict(base, status="new", lon=24.907, lat=60.166, camera_id=1, p_real=0.87, class_name="directed",
                 n_views=3, uncertainty_m=2.0, crops=[crop_uri(40), crop_uri(200)],
                 suggested_tags=json.dumps({"man_made": "surveillance", "camera:type": fx.EVIL})),
            dict(base, status="unseen", lon=24.913, lat=60.1665, osm_id="12", p_find=0.91),
            dict(base, status="outside", lon=24.918, lat=60.169, osm_id="13")]
    return pd.DataFrame(rows)


def test_osm_comparison_layers_with_probability_crops_and_suggested_tags(page, demo_map):
    from geo.outputs.mapview import add_osm_layers

    add_osm_layers(demo_map, _osm_table())
    dialogs = _open(page, demo_map)
    assert page.locator("path.cc-osm-confirmed").count() == 1 and page.locator("path.cc-osm-new").count() == 1
    assert page.locator("path.cc-osm-unseen").count() == 1
    assert page.locator("path.cc-osm-outside").count() == 0  # a layer that starts switched off
    layers = page.locator(".leaflet-control-layers").inner_text()
    for name in ("OSM: confirmed", "OSM: new (not in OSM)", "OSM: mapped, not seen", "OSM: outside the strip"):
        assert name in layers
    page.locator(".leaflet-control-layers label", has_text="OSM: outside").locator("input").check()
    assert page.locator("path.cc-osm-outside").count() == 1
    page.locator("path.cc-osm-new").click(force=True)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    text = popup.inner_text()
    assert "P(real)" in text and "0.87" in text and "man_made=surveillance" in text and fx.EVIL in text
    assert popup.locator("img").count() == 2
    assert all(s.startswith("data:image/jpeg;base64,") for s in popup.locator("img").evaluate_all(
        "els => els.map(e => e.src)"))
    page.locator("path.cc-osm-unseen").click(force=True)
    text = page.locator(".leaflet-popup-content", has_text="OSM node 12").inner_text()
    assert "p_find" in text and "0.91" in text and "probably gone" in text
    assert "OpenStreetMap comparison" in page.locator(".cc-legend").inner_text()
    assert dialogs == [] and page.console_errors == [] and page.external_requests == []
    # adding the layers again replaces them
    add_osm_layers(demo_map, _osm_table().iloc[:1])
    data = json.loads(re.search(r'id="map-data">(.*?)</script>', demo_map.read_text(), re.S).group(1))
    assert [len(data["osm"][s]["features"]) for s in ("confirmed", "new", "unseen", "outside")] == [1, 0, 0, 0]

"""density.png / .svg: streets, cells and cameras, a legend with units, readable ticks, a title with
the estimate, and estimate-vs-truth per area when the truth is known."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from geo.outputs.coverage import street_coverage  # noqa: E402
from geo.outputs.plot import density_figure, write_density_plot  # noqa: E402
from tests.geo import map_fixtures as fx  # noqa: E402

TITLE = "Camera density: demo – 4 cameras (95% 1–12)"


def _labels_overlap(fig, axis) -> bool:
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def _figure(tmp_path, **kwargs):
    points, images, _ = fx.points_and_images(tmp_path)
    streets = fx.streets()
    coverage = street_coverage(streets, points, images, metres_per_point=100.0)
    return density_figure(fx.areas(), cameras=fx.cameras(), streets=streets, coverage=coverage, title=TITLE,
                          **kwargs)


def test_map_panel_ticks_legend_and_title(tmp_path):
    fig = _figure(tmp_path, truth=fx.truth())
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        for axis, suffix in ((ax.xaxis, "°E"), (ax.yaxis, "°N")):
            texts = [t.get_text() for t in axis.get_ticklabels() if t.get_text()]
            assert len(texts) >= 2 and all(t.endswith(suffix) for t in texts), texts
            assert len(set(texts)) == len(texts)  # enough decimals to tell the ticks apart
            assert not _labels_overlap(fig, axis)
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "true camera (simulated)" in legend and "street not surveyed" in legend
        assert any(t.startswith("located camera:") for t in legend)
        bars = [a for a in fig.axes if a.get_ylabel() == "estimated cameras per road km"]
        assert len(bars) == 1  # the colour bar, in its units
        assert fig._suptitle.get_text() == TITLE
        # streets drawn (3 lines), cameras drawn (2 points, sized by confidence)
        lines = sum(len(c.get_segments()) for c in ax.collections if hasattr(c, "get_segments"))
        assert lines >= 3
        sizes = [c.get_sizes() for c in ax.collections if len(c.get_offsets()) == 2 and len(c.get_sizes()) == 2]
        assert sizes and sizes[-1][0] > sizes[-1][1]
    finally:
        plt.close(fig)


def test_second_panel_plots_estimate_against_truth(tmp_path):
    fig = _figure(tmp_path, truth=fx.truth())
    try:
        assert "estimate vs truth" in fig.axes[1].get_title()
        bars = [c for c in fig.axes[1].containers if isinstance(c, ErrorbarContainer)]
        assert len(bars) == 1
        x, y = bars[0].lines[0].get_data()
        assert list(x) == [4.0, 1.0] and list(y) == [4.2, 0.0]
        assert "2 of 2 intervals hold the truth" in fig.axes[1].get_title()
        fig.canvas.draw()
        for axis in (fig.axes[1].xaxis, fig.axes[1].yaxis):
            assert not _labels_overlap(fig, axis)
    finally:
        plt.close(fig)


def test_no_truth_no_second_panel(tmp_path):
    areas = fx.areas().assign(truth_cameras=np.nan)
    fig = density_figure(areas, title=TITLE)
    try:
        assert not any("estimate vs truth" in a.get_title() for a in fig.axes)
        assert len([a for a in fig.axes if a.get_xlabel() == "longitude"]) == 1
    finally:
        plt.close(fig)


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml")])
def test_format_follows_the_suffix(tmp_path, suffix, magic):
    path = write_density_plot(fx.areas(), tmp_path / f"density{suffix}", cameras=fx.cameras(),
                              streets=fx.streets(), truth=fx.truth(), title=TITLE)
    data = path.read_bytes()
    assert data.startswith(magic)
    if suffix == ".svg":
        assert b"<svg" in data and b"estimated cameras per road km" in data
    assert not list(tmp_path.glob(".*tmp*"))


def test_degree_ticks_keep_enough_decimals():
    fig, ax = plt.subplots()
    try:
        from geo.outputs.plot import _degree_axes

        areas = fx.areas()
        small = areas.assign(geometry=areas.geometry.scale(0.25, 0.25, origin=(24.91, 60.165)))
        _degree_axes(ax, small, None)
        fig.canvas.draw()
        texts = [t.get_text() for t in ax.xaxis.get_ticklabels() if t.get_text()]
        assert len(set(texts)) == len(texts) >= 2, texts
    finally:
        plt.close(fig)


def test_density_classes_are_round_and_outliers_get_an_open_class():
    from geo.outputs.colours import colour_for, density_bins

    edges, colours = density_bins(np.array([0.0, 1.2, 2.8, 3.9, np.nan]))
    assert edges[0] == 0 and edges[-1] >= 3.9 and len(edges) == len(colours) + 1
    assert all(float(e).is_integer() or float(e * 2).is_integer() for e in edges)  # round edges
    skewed = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 200])  # one edge cell with little road
    edges, colours = density_bins(skewed)
    assert np.isinf(edges[-1]) and 9 <= edges[-2] <= 10
    assert colour_for(200.0, edges, colours) == colours[-1] and colour_for(1.0, edges, colours) == colours[0]
    assert colour_for(float("nan"), edges, colours) == "#d9d9d9"
    fig = density_figure(fx.areas().assign(per_road_km=[1.0, 200.0]), title=TITLE)
    plt.close(fig)


def test_a_city_of_cameras_is_thinned_and_says_so(monkeypatch):
    import geo.outputs.plot as plot

    monkeypatch.setattr(plot, "MAX_PLOT_CAMERAS", 1)
    fig = density_figure(fx.areas(), cameras=fx.cameras(), title=TITLE)
    try:
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert any(t.startswith("located camera:") and t.endswith("(1 in 2 drawn)") for t in legend)
        from matplotlib.collections import PathCollection

        scatters = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
        assert [len(c.get_offsets()) for c in scatters] == [1]  # one of the 2 cameras drawn
    finally:
        plt.close(fig)

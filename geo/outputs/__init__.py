"""Outputs: what a person opens after a survey, in QGIS or a browser with no network.

- ``geo.outputs.export.write_exports``: density.geojson, density.parquet, map.html, density.png;
- ``geo.outputs.mapview.write_map_html``: the self-contained Leaflet page;
- ``geo.outputs.plot.write_density_plot``: the printable figure;
- helpers: ``colours`` (shared palette), ``thumbnails`` (camera crops), ``coverage`` (street coverage).
"""

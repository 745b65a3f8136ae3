"""Geography side of camcensus, one package per stage in the order data flows.

- ``geo.streets``: the area, its street network, and where to stand and which way to look
  (``geo.streets.sampling.views_from_graph``);
- ``geo.imagery``: the fetch machinery and the real providers (``geo.imagery.fetch``);
- ``geo.sim``: the simulator, an imagery provider with exact ground truth (``geo.sim.survey``);
- (the detector runs here, in the ``detector`` package)
- ``geo.counting``: detections to unique cameras, calibration, inclusion, the estimate and the
  areas it reports on (``geo.counting.locate.locate_survey``, ``geo.counting.estimate.density_from_tables``);
- ``geo.outputs``: GeoJSON/GeoParquet, map.html, density.png (``geo.outputs.export.write_exports``);
- base modules at the root: ``geo.schemas`` (the tables geo writes), ``geo.io`` (atomic writes),
  ``geo.errors``.

``geo`` never imports ``detector``: the two meet through the Parquet tables of DESIGN.md.
"""

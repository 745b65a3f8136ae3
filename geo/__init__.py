"""Geography side of camcensus, by concern.

- streets and sampling: ``geo.area``, ``geo.network``, ``geo.sampling``;
- imagery: ``geo.imagery`` (fetch machinery, real providers, panorama crops, the Stanford rebuild);
- simulation: ``geo.sim`` (OSM features, scenes, the renderer, simulated surveys, previews);
- counting: ``geo.locate``, ``geo.areas``, ``geo.estimate``, ``geo.export``;
- shared: ``geo.schemas`` (the tables geo writes), ``geo.io`` (atomic writes), ``geo.errors``.

``geo`` never imports ``detector``: the two meet through the Parquet tables of DESIGN.md.
"""

"""Counting: from detections to unique cameras and to camera density with calibrated intervals.

- ``geo.counting.locate.locate_survey``: detections to unique cameras (cameras.parquet);
- ``geo.counting.calibration``: the detector's precision by confidence and recall by box size;
- ``geo.counting.inclusion``: each camera's inclusion probability from the design's geometry;
- ``geo.counting.estimate.density_from_tables``: the estimate per area, with its 95% interval;
- ``geo.counting.areas.areas_from_spec``: the areas to report on (``--by``) and population.
"""

"""The street-view simulator: imagery with exact ground truth, offline.

``features`` reads OSM buildings, cameras and street furniture; ``scene`` places cameras and
decoys; ``render`` draws one view with its camera boxes; ``survey.simulate_survey`` renders a
whole survey (images, ``truth.geojson``, ``truth_boxes.parquet``); ``preview`` draws contact
sheets with truth or detection boxes.
"""

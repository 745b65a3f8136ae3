"""Streets: what an ``--area`` names, its street network, and the survey's viewpoints.

- ``geo.streets.area.area_from_spec``: the demo extract, an OSM file, a graph, a bbox or a place;
- ``geo.streets.network.graph_from_area``: the projected osmnx graph (metres, local UTM);
- ``geo.streets.sampling.views_from_graph``: points along the streets and the views from each
  (heading in degrees clockwise from north); ``sample_survey`` writes points.parquet and views.parquet.
"""

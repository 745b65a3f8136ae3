"""Street networks: the projected osmnx graph of an area, and its streets as a table.

``graph_from_area`` gives an osmnx-compatible ``MultiDiGraph`` projected to the local UTM zone
for any ``--area``; ``streets_from_graph`` turns it into one row per undirected street (a
two-way street is one street, not two directed edges), lengths in metres.
"""

from __future__ import annotations

import bz2
import gzip
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from geo.streets.area import Area, area_from_spec
from geo.errors import GeoInputError
from geo.io import atomic_path

NetworkType = Literal["drive", "all", "walk"]
NETWORK_TYPES: tuple[str, ...] = ("drive", "all", "walk")
_PYROSM_NETWORK = {"drive": "driving", "all": "all", "walk": "walking"}

# Highway values that are not streets of a given network type (after osmnx's own filters).
_NOT_STREETS = {"abandoned", "bus_guideway", "construction", "disused", "elevator", "escalator",
                "planned", "platform", "proposed", "raceway", "razed", "rest_area", "services"}
_NOT_DRIVE = _NOT_STREETS | {"bridleway", "busway", "corridor", "cycleway", "footway", "path",
                             "pedestrian", "steps", "track", "no"}
_NOT_WALK = _NOT_STREETS | {"motorway", "motorway_link", "trunk", "trunk_link", "cycleway"}


def graph_from_area(area: Area | str, *, network_type: NetworkType = "drive") -> nx.MultiDiGraph:
    """Street graph of ``area`` of ``network_type``, projected to its UTM zone (metres).

    Edges carry ``length`` (m), ``geometry`` (projected LineString) and OSM tags; the graph's
    ``crs`` attribute names the UTM zone. Raises ``GeoInputError`` for bad or empty areas.
    """
    import osmnx as ox

    if network_type not in NETWORK_TYPES:
        raise GeoInputError(f"unknown network type '{network_type}': choose one of {', '.join(NETWORK_TYPES)}")
    area = area_from_spec(area) if isinstance(area, str) else area
    if area.kind == "pbf":
        graph = _graph_from_pbf(area.path, network_type)
    elif area.kind == "xml":
        graph = _graph_from_xml(area.path, network_type)
    elif area.kind == "graphml":
        graph = _graph_from_graphml(area.path, network_type)
    else:
        graph = _graph_from_overpass(area, network_type)
    if graph.number_of_edges() == 0:
        raise GeoInputError(f"area {area.name} has no streets of type '{network_type}'")
    if not ox.projection.is_projected(graph.graph.get("crs", "epsg:4326")):
        graph = ox.project_graph(graph)
    return graph


def save_network(graph: nx.MultiDiGraph, path: str | Path) -> Path:
    """Write ``graph`` as GraphML atomically (temp file, then rename); return the path."""
    import osmnx as ox

    with atomic_path(path) as tmp:
        ox.save_graphml(graph, tmp)
    return Path(path)


def load_network(path: str | Path) -> nx.MultiDiGraph:
    """Read a ``network.graphml`` written by :func:`save_network`."""
    import osmnx as ox

    return ox.load_graphml(Path(path))


def streets_from_graph(graph: nx.MultiDiGraph) -> gpd.GeoDataFrame:
    """One row per undirected street of a projected graph.

    Columns: ``street_id`` (0..n-1), ``u``, ``v``, ``key`` (the kept directed edge), ``length_m``,
    ``highway``, ``geometry`` (LineString in the graph's CRS, running from u to v). A two-way
    street appears in osmnx as u->v and v->u with the same geometry reversed: only one is kept.
    """
    import osmnx as ox

    edges = ox.graph_to_gdfs(graph, nodes=False, fill_edge_geometry=True).reset_index()
    if edges.empty:
        return gpd.GeoDataFrame(
            {"street_id": [], "u": [], "v": [], "key": [], "length_m": [], "highway": []},
            geometry=[], crs=graph.graph.get("crs"))
    low = np.minimum(edges["u"].to_numpy(), edges["v"].to_numpy())
    high = np.maximum(edges["u"].to_numpy(), edges["v"].to_numpy())
    lengths = edges.geometry.length.to_numpy()
    # Reversed twins share endpoints and length; parallel but distinct streets differ in length.
    twin_key = pd.DataFrame({"low": low, "high": high, "len_cm": np.round(lengths * 100).astype(np.int64)})
    keep = ~twin_key.duplicated()
    streets = edges.loc[keep.to_numpy(), ["u", "v", "key", "highway", "geometry"]].reset_index(drop=True)
    streets.insert(0, "street_id", np.arange(len(streets), dtype=np.int64))
    streets.insert(4, "length_m", streets.geometry.length.to_numpy())
    streets["highway"] = streets["highway"].map(_first_tag)
    return gpd.GeoDataFrame(streets, geometry="geometry", crs=edges.crs)


def road_km(graph: nx.MultiDiGraph) -> float:
    """Total length of the undirected streets of a projected graph, in kilometres."""
    return float(streets_from_graph(graph)["length_m"].sum() / 1000.0)


# --- readers -------------------------------------------------------------------------------

def _graph_from_pbf(path: Path, network_type: str) -> nx.MultiDiGraph:
    import osmnx as ox
    from pyrosm import OSM

    try:
        osm = OSM(str(path))
        nodes, edges = osm.get_network(network_type=_PYROSM_NETWORK[network_type], nodes=True)
    except GeoInputError:
        raise
    except Exception as error:  # pyrosm raises bare errors on corrupt blocks
        raise GeoInputError(f"cannot read OSM PBF {path}: corrupt or unsupported ({_short(error)})") from None
    if edges is None or nodes is None or len(edges) == 0:
        raise GeoInputError(f"area {path.name} has no streets of type '{network_type}'")
    graph = osm.to_graph(nodes, edges, graph_type="networkx", osmnx_compatible=True, retain_all=False)
    graph.graph["crs"] = "epsg:4326"
    graph = _simplify(graph)
    return ox.project_graph(graph)


def _graph_from_xml(path: Path, network_type: str) -> nx.MultiDiGraph:
    import osmnx as ox

    with tempfile.TemporaryDirectory(prefix="camcensus-osm-") as tmp:
        repaired = _repair_osm_xml(path, Path(tmp) / "repaired.osm")
        try:
            graph = ox.graph_from_xml(repaired, simplify=True, retain_all=False)
        except Exception as error:
            raise GeoInputError(f"cannot build a street network from {path}: {_short(error)}") from None
    graph = _filter_network_type(graph, network_type)
    if graph.number_of_edges() == 0:
        raise GeoInputError(f"area {path.name} has no streets of type '{network_type}'")
    return ox.project_graph(graph)


def _graph_from_graphml(path: Path, network_type: str) -> nx.MultiDiGraph:
    import osmnx as ox

    try:
        graph = ox.load_graphml(path)
    except Exception as error:
        raise GeoInputError(f"cannot read GraphML {path}: {_short(error)}") from None
    return _filter_network_type(graph, network_type)


def _graph_from_overpass(area: Area, network_type: str) -> nx.MultiDiGraph:
    import osmnx as ox

    try:
        if area.kind == "bbox":
            return ox.graph_from_bbox(area.bbox, network_type=network_type)
        return ox.graph_from_place(area.place, network_type=network_type)
    except Exception as error:
        what = f"bbox {area.bbox}" if area.kind == "bbox" else f"place '{area.place}'"
        raise GeoInputError(
            f"cannot download the street network for {what} (needs network access to "
            f"OpenStreetMap; offline, pass an .osm.pbf, .osm or .graphml file): {_short(error)}") from None


def _repair_osm_xml(path: Path, out: Path) -> Path:
    """Copy an OSM XML file (plain, .bz2 or .gz) dropping way references to nodes that are not in
    the file, which clipped extracts contain and osmnx refuses."""
    opener = {".bz2": bz2.open, ".gz": gzip.open}.get(path.suffix.lower(), open)
    try:
        with opener(path, "rb") as handle:
            tree = ET.parse(handle)
    except (ET.ParseError, OSError, EOFError) as error:
        raise GeoInputError(f"not valid OSM XML: {path} ({_short(error)})") from None
    root = tree.getroot()
    if root.tag != "osm":
        raise GeoInputError(f"not OSM XML data (root element <{root.tag}>): {path}")
    node_ids = {element.get("id") for element in root.iter("node")}
    for way in root.iter("way"):
        for nd in [nd for nd in way.findall("nd") if nd.get("ref") not in node_ids]:
            way.remove(nd)
    tree.write(out, encoding="utf-8", xml_declaration=True)
    return out


def _filter_network_type(graph: nx.MultiDiGraph, network_type: str) -> nx.MultiDiGraph:
    if network_type == "all":
        excluded = _NOT_STREETS
    else:
        excluded = _NOT_DRIVE if network_type == "drive" else _NOT_WALK
    drop = []
    for u, v, key, data in graph.edges(keys=True, data=True):
        highway = data.get("highway")
        values = set(highway) if isinstance(highway, list) else {highway}
        access = data.get("access")
        if highway is None or values <= excluded or (network_type == "drive" and access == "no"):
            drop.append((u, v, key))
    graph = graph.copy()
    graph.remove_edges_from(drop)
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    return graph


def _simplify(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Merge chains of 2-degree nodes into single streets (osmnx topology simplification)."""
    import osmnx as ox

    try:
        return ox.simplify_graph(graph)
    except Exception:  # already simplified, or attributes osmnx does not expect
        return graph


def _first_tag(value: object) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]

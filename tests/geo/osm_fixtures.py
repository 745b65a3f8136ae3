"""Tiny OSM XML extracts generated in code, for tests."""

from pathlib import Path

ORIGIN = (24.94, 60.17)  # lon, lat (central Helsinki)


def write_osm_xml(path: Path, ways: list[tuple[str, list[int]]], *, n_nodes: int = 6,
                  step_deg: float = 0.001, extra_refs: bool = False) -> Path:
    """Write an OSM XML file with nodes on a line (``step_deg`` apart, ~55 m east-west) and
    ``ways`` given as (highway value, node indices). ``extra_refs`` adds references to nodes
    missing from the file, as clipped extracts have."""
    lon0, lat0 = ORIGIN
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for i in range(n_nodes):
        lines.append(f'  <node id="{i + 1}" lat="{lat0 + (i % 2) * step_deg:.7f}" '
                     f'lon="{lon0 + i * step_deg:.7f}" version="1"/>')
    for w, (highway, nodes) in enumerate(ways):
        lines.append(f'  <way id="{100 + w}" version="1">')
        refs = [n + 1 for n in nodes]
        if extra_refs:
            refs = [999_999] + refs + [999_998]
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines.append(f'    <tag k="highway" v="{highway}"/>')
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines))
    return path

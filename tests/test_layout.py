"""The layout's promises: detector and geo never import each other, no module imports itself
through a circle, and the two packages agree on the detections table they share by name.

Imports are read from the source (``ast``), function-level ones included, so a lazy import
cannot hide a dependency."""

import ast
from pathlib import Path

import networkx as nx
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("detector", "geo", "scripts")


def module_files(root: Path = REPO) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def import_graph(modules: dict[str, Path]) -> nx.DiGraph:
    """Edges module -> project module it imports (anywhere in its body). Importing one's own
    parent package (``import detector`` for its set-up) is not an edge."""
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph.add_edge(name, target)
    return graph


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    return import_graph(module_files())


def test_the_graph_sees_lazy_imports(graph):
    # the survey runs each stage through scripts.survey.stages, which imports geo inside functions
    assert graph.has_edge("scripts.survey.stages", "geo.sim.survey")
    assert graph.has_edge("detector.detect", "detector.ray_engine")


def test_detector_and_geo_never_import_each_other(graph):
    crossing = [(a, b) for a, b in graph.edges
                if {a.split(".")[0], b.split(".")[0]} == {"detector", "geo"}]
    assert crossing == []


def test_no_module_imports_itself_through_a_circle(graph):
    assert sorted(nx.simple_cycles(graph)) == []


def test_the_detection_core_knows_nothing_of_ray(graph):
    assert not graph.has_edge("detector.engine", "detector.ray_engine")
    assert graph.has_edge("detector.ray_engine", "detector.engine")


def test_a_circle_is_found(tmp_path):
    # the check itself: two modules importing each other inside functions form a cycle
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "geo" / "a.py").write_text("def f():\n    from geo.b import g\n")
    (tmp_path / "geo" / "b.py").write_text("def g():\n    import geo.a\n")
    (tmp_path / "geo" / "c.py").write_text("import detector\n")
    found = import_graph(module_files(tmp_path))
    assert sorted(sorted(c) for c in nx.simple_cycles(found)) == [["geo.a", "geo.b"]]
    assert found.has_edge("geo.c", "detector")


def test_geo_reads_the_detections_table_by_detectors_names():
    from detector.schemas import DETECTIONS
    from geo.schemas import DETECTION_COLUMNS

    assert list(DETECTION_COLUMNS) == DETECTIONS.names


# geo's root holds its base modules and one package per stage, in the order data flows
GEO_BASE_MODULES = {"__init__.py", "io.py", "errors.py", "schemas.py"}
GEO_STAGE_PACKAGES = {"streets", "imagery", "sim", "counting", "outputs"}


def geo_root_strays(root: Path = REPO) -> list[str]:
    """Entries of geo/ that are neither a base module nor a stage package."""
    strays = []
    for entry in sorted((root / "geo").iterdir()):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir() and entry.name in GEO_STAGE_PACKAGES and (entry / "__init__.py").exists():
            continue
        if entry.is_file() and entry.name in GEO_BASE_MODULES:
            continue
        strays.append(entry.name)
    return strays


def test_geo_root_holds_only_base_modules_and_stage_packages():
    assert geo_root_strays() == []


def test_a_stray_module_at_geos_root_is_found(tmp_path):
    (tmp_path / "geo" / "streets").mkdir(parents=True)
    (tmp_path / "geo" / "streets" / "__init__.py").write_text("")
    (tmp_path / "geo" / "io.py").write_text("")
    (tmp_path / "geo" / "estimate.py").write_text("")
    (tmp_path / "geo" / "loose").mkdir()
    assert geo_root_strays(tmp_path) == ["estimate.py", "loose"]


def test_every_stage_package_says_what_it_holds():
    for name in GEO_STAGE_PACKAGES:
        doc = ast.get_docstring(ast.parse((REPO / "geo" / name / "__init__.py").read_text()))
        assert doc and len(doc.splitlines()) >= 2, name
    assert ast.get_docstring(ast.parse((REPO / "scripts" / "survey" / "__init__.py").read_text()))


def test_the_survey_orchestration_lives_in_one_package():
    loose = {p.name for p in (REPO / "scripts").glob("*.py")}
    assert not loose & {"survey.py", "stages.py", "survey_options.py", "survey_report.py", "survey_files.py"}


# scripts/ shows its two parts: the app (cli, commands, survey, review) and validation/research
# (scripts.validation, scripts.bench); dataset synthesis has a home of its own (scripts.synthesis)
APP_PACKAGES = ("scripts.cli", "scripts.app", "scripts.commands", "scripts.survey", "scripts.review",
                "scripts.survey_dir", "scripts.warning_lines")
RESEARCH_PACKAGES = ("scripts.validation", "scripts.bench")


def _in(name: str, packages) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_the_app_never_imports_validation_or_research(graph):
    upward = [(a, b) for a, b in graph.edges if _in(a, APP_PACKAGES) and _in(b, RESEARCH_PACKAGES)]
    assert upward == []


def test_the_review_does_not_reach_back_into_the_survey(graph):
    # the survey's stages read the review's calibration; the review reads survey files through
    # scripts.survey_dir, never through the orchestration
    back = [(a, b) for a, b in graph.edges if _in(a, ("scripts.review",)) and _in(b, ("scripts.survey",))]
    assert back == []
    assert graph.has_edge("scripts.review.tables", "scripts.survey_dir")


def test_scripts_root_holds_the_app_and_the_parts():
    loose = sorted(p.name for p in (REPO / "scripts").glob("*.py"))
    assert loose == ["__init__.py", "app.py", "cli.py", "survey_dir.py", "warning_lines.py"]
    for package in ("validation", "synthesis", "bench", "survey", "review", "commands"):
        assert (REPO / "scripts" / package / "__init__.py").exists(), package
    assert (REPO / "scripts" / "synthesis" / "dataset.py").exists()

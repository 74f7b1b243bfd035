"""docs/ARCHITECTURE.md stays true: it lists every source file once, each on a floor,
and no file imports from a floor above its own (the graph is test_architecture's)."""

from __future__ import annotations

import re

import pytest

from test_architecture import ROOT, import_graph, modules

DOC = ROOT / "docs" / "ARCHITECTURE.md"
FLOOR = re.compile(r"^## Floor (\d+):")
ENTRY = re.compile(r"^- `([^`]+\.py)`: \S")


def floors(text: str) -> dict[str, int]:
    """File path -> floor number, from the doc's "## Floor N" sections; a file listed
    twice is an error, since each file has one job and one floor."""
    found: dict[str, int] = {}
    floor = None
    for line in text.splitlines():
        if m := FLOOR.match(line):
            floor = int(m.group(1))
        elif (m := ENTRY.match(line)) and floor is not None:
            assert m.group(1) not in found, f"{m.group(1)} is listed twice in docs/ARCHITECTURE.md"
            found[m.group(1)] = floor
    return found


def upward_imports(graph: dict[str, dict[str, int]], floor_of: dict[str, int]) -> list[str]:
    return [f"{src} (floor {floor_of[src]}) imports {dst} (floor {floor_of[dst]}) at line {line}"
            for src, targets in graph.items() for dst, line in targets.items()
            if src in floor_of and dst in floor_of and floor_of[dst] > floor_of[src]]


def test_the_floor_parser_reads_sections_and_entries():
    text = "## Floor 1: ground\n\n- `a.py`: one job\n## Floor 2: parts\n- `b.py`: another\nprose `c.py`: no\n"
    assert floors(text) == {"a.py": 1, "b.py": 2}
    with pytest.raises(AssertionError, match="listed twice"):
        floors(text + "- `a.py`: again\n")


def test_an_import_from_a_higher_floor_is_named():
    graph = {"low": {"high": 7}, "high": {"low": 3}}
    assert upward_imports(graph, {"low": 1, "high": 2}) == ["low (floor 1) imports high (floor 2) at line 7"]


def test_every_source_file_is_listed_once_and_nothing_else():
    listed = set(floors(DOC.read_text(encoding="utf-8")))
    actual = {str(p.relative_to(ROOT)) for p in modules(ROOT).values()} | {"app.py"}
    assert sorted(actual - listed) == [], "files missing from docs/ARCHITECTURE.md"
    assert sorted(listed - actual) == [], "docs/ARCHITECTURE.md lists files that do not exist"


def test_every_import_points_down_or_sideways():
    by_path = floors(DOC.read_text(encoding="utf-8"))
    floor_of = {name: by_path[str(path.relative_to(ROOT))] for name, path in modules(ROOT).items()
                if str(path.relative_to(ROOT)) in by_path}
    assert upward_imports(import_graph(ROOT), floor_of) == []


def test_the_only_files_streamlit_could_list_as_pages_are_the_pages_app_py_shows():
    # Until st.navigation runs, Streamlit lists every pages/*.py (not sub-folders) in the sidebar:
    # a helper there shows as a page ("train form") in the first render and in a busy server's.
    shown = set(re.findall(r'st\.Page\("pages/(\w+)\.py"', (ROOT / "app.py").read_text(encoding="utf-8")))
    assert len(shown) == 7 and {p.stem for p in (ROOT / "pages").glob("*.py")} == shown

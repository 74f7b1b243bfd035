"""The shape of the code: floors, every import pointing down (docs/ARCHITECTURE.md).

The import graph of ``gan_core`` and ``pages`` is built from the source with ``ast``,
so imports inside functions count as much as those at the top: a lazy import that
closes a loop is still a loop, only one that fails later and more quietly. The
builder is tested on small synthetic packages first, so that "no cycle" means the
graph was right, not that it was empty.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TREES = ("gan_core", "pages")


# ----------------------------------------------------------------------------- the graph


def modules(root: Path, trees=TREES) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``root/<tree>``; a package's
    ``__init__.py`` is the package itself."""
    found = {}
    for tree in trees:
        for path in sorted((root / tree).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path) -> list[tuple[str, int]]:
    """Every (dotted name, line) ``module`` imports anywhere in its source, absolute.

    ``from X import y`` imports X and, when y is a submodule, X.y too; a relative
    import is resolved against the module's package (a package's ``__init__`` is its
    own package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(package):
                    raise ValueError(f"{path}:{node.lineno}: a relative import beyond the top package")
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names.append((target, node.lineno))
            names += [(f"{target}.{alias.name}", node.lineno) for alias in node.names if alias.name != "*"]
    return names


def import_graph(root: Path, trees=TREES) -> dict[str, dict[str, int]]:
    """module -> {project module it imports: line of the first such import}.

    Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first, so those count
    too, except the importer's own packages (which are being imported already)."""
    mods = modules(root, trees)
    graph: dict[str, dict[str, int]] = {m: {} for m in mods}
    for module, path in mods.items():
        own = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
        for name, line in imported_names(module, path):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target in mods and target != module and target not in own:
                    graph[module].setdefault(target, line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (a -> b -> ... -> a, as a list ending where it starts) per group of
    modules that import each other, in a stable order."""
    return [_path_around(graph, group) for group in tangles(graph)]


def tangles(graph: dict[str, dict[str, int]]) -> list[set[str]]:
    """The strongly connected groups of more than one module: each reaches every other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan; the graphs here are a few hundred nodes deep at most
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(groups, key=min)


def _path_around(graph: dict[str, dict[str, int]], group: set[str]) -> list[str]:
    """A shortest cycle through the group's first module, staying inside the group."""
    start = min(group)
    previous = {start: None}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v]):
                if w == start:
                    path = []
                    node = v
                    while node is not None:
                        path.append(node)
                        node = previous[node]
                    return path[::-1] + [start]
                if w in group and w not in previous:
                    previous[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def imports_of(path: Path, module: str, top: str) -> list[int]:
    """Lines where the file imports package ``top`` (or a module inside it)."""
    return sorted({line for name, line in imported_names(module, path) if name == top or name.startswith(top + ".")})


# ----------------------------------------------------------------------------- the builder itself


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_cycle_closed_by_an_import_inside_a_function_is_found_and_named(tmp_path):
    root = write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from . import b\n",  # from pkg import b: imports the module pkg.b
        "pkg/b.py": "def f():\n    from .sub.c import thing\n    return thing\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/c.py": "import os\n\n\ndef g():\n    from .. import a  # two levels up: pkg\n",
        "pkg/d.py": "import pkg.a\n",  # into the cycle, but not part of it
    })
    graph = import_graph(root, ("pkg",))
    assert graph["pkg.a"] == {"pkg.b": 1}
    assert graph["pkg.b"] == {"pkg.sub": 2, "pkg.sub.c": 2}  # a package's __init__ runs before its module
    assert graph["pkg.sub.c"] == {"pkg.a": 5}
    found = cycles(graph)
    assert found == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]
    assert tangles(graph) == [{"pkg.a", "pkg.b", "pkg.sub.c"}]
    assert describe(found[0], graph) == "pkg.a (line 1) -> pkg.b (line 2) -> pkg.sub.c (line 5) -> pkg.a"


def test_a_graph_that_points_down_has_no_cycle(tmp_path):
    root = write(tmp_path, {
        "pkg/__init__.py": "from . import top  # a package importing its own modules is no cycle\n",
        "pkg/top.py": "from pkg.low import x\nfrom .mid import y\n",
        "pkg/mid.py": "def f():\n    from . import low\n",
        "pkg/low.py": "import json\nx = y = 1\n",
    })
    graph = import_graph(root, ("pkg",))
    assert graph == {"pkg": {"pkg.top": 1}, "pkg.top": {"pkg.low": 1, "pkg.mid": 2}, "pkg.mid": {"pkg.low": 2}, "pkg.low": {}}
    assert cycles(graph) == []


def test_two_modules_importing_each_other_from_the_top_are_a_cycle(tmp_path):
    root = write(tmp_path, {"pkg/__init__.py": "", "pkg/x.py": "from pkg import y\n", "pkg/y.py": "from .x import f\n"})
    assert cycles(import_graph(root, ("pkg",))) == [["pkg.x", "pkg.y", "pkg.x"]]


def test_imports_of_a_library_are_found_wherever_they_are(tmp_path):
    write(tmp_path, {"m.py": "import json\n\n\ndef show():\n    import streamlit.components.v1 as c\n    from streamlit import write\n"})
    assert imports_of(tmp_path / "m.py", "m", "streamlit") == [5, 6]
    assert imports_of(tmp_path / "m.py", "m", "stream") == []


# ----------------------------------------------------------------------------- the project


@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT)


def test_the_builder_sees_the_project(graph):
    """Guards the checks below against passing on an empty or wrong graph."""
    assert len(graph) > 40
    assert "gan_core.data.store" in graph["gan_core.data.paired"]  # from . import store as stores
    assert "gan_core.data" in graph["gan_core.uploads"]
    assert "gan_core.untrusted" in graph["gan_core.uploads"]
    assert any(m.startswith("gan_core.") for m in graph["pages.train"])


def test_no_import_cycle_in_gan_core_or_pages(graph):
    found = tangles(graph)
    assert not found, "import cycles (imports inside functions count):\n" + "\n".join(
        f"{len(g)} modules ({', '.join(sorted(g))}), e.g. {describe(_path_around(graph, g), graph)}" for g in found)


def test_no_gan_core_module_imports_streamlit():
    offenders = {m: lines for m, p in modules(ROOT, ("gan_core",)).items() if (lines := imports_of(p, m, "streamlit"))}
    assert not offenders, f"gan_core must never import streamlit: {offenders}"


def test_no_page_imports_torch():
    offenders = {m: lines for m, p in modules(ROOT, ("pages",)).items()
                 if (lines := imports_of(p, m, "torch") + imports_of(p, m, "torchvision"))}
    assert not offenders, f"pages must not import torch (gan_core returns numpy for them): {offenders}"
    assert modules(ROOT, ("pages",)), "no pages found"


def test_untrusted_is_the_ground_floor(graph):
    """Everything that reads a stranger's bytes stands on gan_core.untrusted, so it may
    import nothing of the product but errors (and not torch): else its readers loop
    back through whatever it imported."""
    assert set(graph["gan_core.untrusted"]) == {"gan_core.errors"}
    assert imports_of(ROOT / "gan_core" / "untrusted.py", "gan_core.untrusted", "torch") == []


def test_no_comment_excuses_a_lazy_import_by_a_cycle():
    excuses = [f"{p.relative_to(ROOT)}:{i}" for tree in TREES for p in (ROOT / tree).rglob("*.py")
               for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "not at the top" in line]
    assert not excuses, f"fix the cycle instead of explaining it: {excuses}"


def test_the_upload_flow_imports_what_it_stands_on_at_the_top():
    """uploads.py is the flow on top of data, inference, translate and checkpoints: it has
    no reason to hide an import in a function, which is how the old cycle was kept quiet."""
    tree = ast.parse((ROOT / "gan_core" / "uploads.py").read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    hidden = [node.lineno for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top]
    assert not hidden, f"imports inside functions in gan_core/uploads.py, lines {hidden}"

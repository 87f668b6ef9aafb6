"""The folder tree is the map: no import circles, package ``__init__`` files only export, no flat
``_prefix_`` module groups at the top, and ARCHITECTURE.md names every folder it should."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "jupyter_cvops"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Imports(ast.NodeVisitor):
    """Run-time imports of one module (function-level ones included; ``if TYPE_CHECKING:`` left out)."""

    def __init__(self, name: str, is_pkg: bool, modules: set[str]) -> None:
        self.name, self.is_pkg, self.modules, self.deps = name, is_pkg, modules, set[str]()

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for n in node.orelse:
                self.visit(n)
            return
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.name.split(".") if self.is_pkg else self.name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if target.split(".")[0] != "jupyter_cvops":
            return
        for alias in node.names:
            sub = f"{target}.{alias.name}"
            self.deps.add(sub if sub in self.modules else target)

    def visit_Import(self, node: ast.Import) -> None:
        self.deps.update(a.name for a in node.names if a.name.split(".")[0] == "jupyter_cvops")


def import_graph(root: Path = PKG) -> dict[str, set[str]]:
    """Module -> the package modules it imports at run time.

    Examples
    --------
    >>> g = import_graph()
    >>> "jupyter_cvops.workspace" in g["jupyter_cvops.datasets._export"]
    False
    """
    files = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        v = _Imports(name, path.name == "__init__.py", set(files))
        v.visit(ast.parse(path.read_text(encoding="utf-8")))
        graph[name] = {d for d in v.deps if d in files and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def _folder(module: str) -> str:
    """The top-level folder (or top-level module) a module lives in."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def test_cycle_finder_finds_a_planted_circle(tmp_path: Path) -> None:
    pkg = tmp_path / "jupyter_cvops"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("def f():\n    from .y import g\n")
    (pkg / "a" / "y.py").write_text("from typing import TYPE_CHECKING\nfrom . import x\n"
                                    "if TYPE_CHECKING:\n    from ..b import z\n")
    (pkg / "b.py").write_text("from .a import x\n")
    graph = import_graph(pkg)
    assert cycles(graph) == [["jupyter_cvops.a.x", "jupyter_cvops.a.y"]]
    assert "jupyter_cvops.b" not in graph["jupyter_cvops.a.y"]  # typing-only imports are not edges


def test_no_module_import_circles() -> None:
    assert cycles(import_graph()) == []


def test_no_folder_import_circles() -> None:
    """Folders depend one way: e.g. ``drift`` may use ``embeddings``, never the reverse."""
    folders: dict[str, set[str]] = defaultdict(set)
    for mod, deps in import_graph().items():
        for d in deps:
            if _folder(d) != _folder(mod) and _folder(d) != "jupyter_cvops":
                folders[_folder(mod)].add(_folder(d))
    for f in list(folders):
        for d in folders[f]:
            folders.setdefault(d, set())
    assert cycles(dict(folders)) == []


def test_nothing_below_the_top_imports_the_package_root() -> None:
    """``from jupyter_cvops import X`` inside the package would make the root a hub of circles."""
    offenders = [m for m, deps in import_graph().items() if "jupyter_cvops" in deps and m != "jupyter_cvops"]
    assert offenders == []


@pytest.mark.parametrize("init", sorted(p for p in PKG.rglob("__init__.py") if p.parent != PKG), ids=str)
def test_package_inits_only_export(init: Path) -> None:
    tree = ast.parse(init.read_text(encoding="utf-8"))
    allowed = (ast.Import, ast.ImportFrom)
    for node in tree.body:
        if isinstance(node, allowed):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # the docstring
            continue
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] in (["__all__"], ["_LAZY"]):
            continue
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":  # imports for type checkers
            continue
        if isinstance(node, ast.FunctionDef) and node.name in ("__getattr__", "__dir__"):  # lazy exports
            continue
        if isinstance(node, ast.FunctionDef) and node.name.startswith("_jupyter_"):  # Jupyter's entry points
            continue
        if isinstance(node, ast.FunctionDef) and node.name == "_load_jupyter_server_extension":
            continue
        raise AssertionError(f"{init.relative_to(REPO)}:{node.lineno}: {type(node).__name__} in an __init__")


def test_top_level_is_a_short_map() -> None:
    entries = sorted(p.name for p in PKG.iterdir()
                     if p.name not in {"__pycache__", "labextension", "static"} and not p.name.startswith("."))
    assert len(entries) <= 29, entries  # one folder per domain: the data half, the model half (shadow, audit);
    # +1: retention/ (compaction, gc, forget), whose verbs delete across every domain
    modules = [e[:-3] for e in entries if e.endswith(".py")]
    prefixes = defaultdict(list)
    for m in modules:
        match = re.match(r"_?([a-z]+)_", m)
        if match:
            prefixes[match.group(1)].append(m)
    assert {k: v for k, v in prefixes.items() if len(v) > 1} == {}


def test_architecture_md_names_every_folder() -> None:
    text = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    folders = sorted(p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    missing = [f for f in folders if f"{f}/" not in text]
    assert missing == []
    assert len(text.splitlines()) <= 120  # two screens


def test_test_modules_have_unique_basenames() -> None:
    """Test folders have no ``__init__.py``: pytest imports modules by basename, so two
    ``test_export.py`` in different folders stop the whole run at collection."""
    seen: dict[str, Path] = {}
    for p in sorted((REPO / "tests").rglob("test_*.py")):
        assert p.name not in seen, f"{p.relative_to(REPO)} and {seen[p.name].relative_to(REPO)} share a basename"
        seen[p.name] = p

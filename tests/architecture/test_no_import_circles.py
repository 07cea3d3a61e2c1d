"""No import circle anywhere in engine, forms and api, counted module by module.

The ``no-cycles`` contract (``acyclic_siblings`` in pyproject) looks at the siblings inside
each package; a package's ``__init__`` and one of its own modules importing each other are
no pair of siblings, so it lets that circle through. This test walks every direct import
of the graph import-linter builds (grimp) and names each circle it closes.
"""

from __future__ import annotations

import grimp

ROOTS = ("engine", "forms", "api")


def import_circles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """Every circle of imports as ``(a, b, ..., a)``, the shortest through each import; each once."""
    found: dict[frozenset[str], tuple[str, ...]] = {}
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                found.setdefault(frozenset(back), (module, *back))
    return sorted(found.values(), key=lambda circle: (len(circle), circle))


def test_engine_forms_and_api_import_in_no_circle() -> None:
    circles = import_circles(grimp.build_graph(*ROOTS, cache_dir=None))
    assert circles == [], "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_a_package_and_its_own_module_importing_each_other_is_a_circle() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg", imported="pkg.a")
    graph.add_import(importer="pkg.a", imported="pkg")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    assert import_circles(graph) == [("pkg", "pkg.a", "pkg")]


def test_a_longer_circle_is_named_once_with_every_module_on_it() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert import_circles(graph) == [("pkg.a", "pkg.b", "pkg.c", "pkg.a")]

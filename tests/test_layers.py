"""Imports flow one way (docs/STYLE: "Layout"): a layer imports only layers below it.

    cli, web  →  migration, alerts, scan, identity  →  formats, crypto, store, audit, legacy  →  errors, config
                                                                                           _compiled (build switch)

Inside a level, a package imports a sibling only through an edge listed in SIBLING_EDGES, so a
new sideways dependency is a decision someone writes down here. ``formats`` never imports
``store``, ``crypto`` or ``migration``; ``legacy`` imports only ``formats``, ``errors`` and
``config``. Every ``import`` counts, including those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "ecluse"

LEVELS: dict[str, int] = {
    "errors": 0, "config": 0, "_compiled": 0,
    "formats": 1, "crypto": 1, "store": 1, "audit": 1, "legacy": 1,
    "migration": 2, "alerts": 2, "scan": 2, "identity": 2,
    "cli": 3, "web": 3,
}

#: Sideways imports inside one level that the design accepts, with the reason.
SIBLING_EDGES: dict[tuple[str, str], str] = {
    ("config", "errors"): "a bad setting raises ConfigError",
    ("audit", "crypto"): "checkpoints are signed notes (ecluse.crypto.note)",
    ("legacy", "formats"): "the legacy reader yields the internal records of ecluse.formats.records",
    ("migration", "identity"): "the demo registers people through ecluse.identity.people",
    ("migration", "scan"): "close runs the residual scan over the staging area",
}

#: Imports that are never allowed, whatever the levels say.
FORBIDDEN: dict[str, set[str]] = {
    "formats": {"store", "crypto", "migration", "audit", "legacy"},
    "legacy": {"crypto", "store", "audit"},
    "errors": set(LEVELS) - {"errors"},
    "config": set(LEVELS) - {"config", "errors"},
    "_compiled": set(LEVELS) - {"_compiled"},  # imported by ecluse/__init__.py before anything else
}


def _package_of(path: Path) -> str | None:
    rel = path.relative_to(SRC)
    if len(rel.parts) == 1:
        name = rel.stem
        return name if name in LEVELS else None  # ecluse/__init__.py is the public API
    return rel.parts[0]


def _imported(tree: ast.AST, path: Path) -> list[tuple[str, int]]:
    """(top-level ecluse package, line) for every import of an ecluse module in ``tree``."""
    out: list[tuple[str, int]] = []
    rel = path.relative_to(SRC)
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this file's package
                base = list(rel.parts[:-1])[: len(rel.parts) - node.level]
                mod = ".".join(["ecluse", *base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            names = [mod]
            if mod == "ecluse":
                names = [f"ecluse.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "ecluse" and len(parts) > 1:
                out.append((parts[1], node.lineno))
    return out


def _edges() -> list[tuple[str, str, str, int]]:
    edges = []
    for path in sorted(SRC.rglob("*.py")):
        pkg = _package_of(path)
        if pkg is None:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, line in _imported(tree, path):
            if target != pkg:
                edges.append((pkg, target, str(path.relative_to(SRC.parent.parent)), line))
    return edges


def _violations() -> list[str]:
    bad = []
    for pkg, target, where, line in _edges():
        if pkg not in LEVELS or target not in LEVELS:
            bad.append(f"{where}:{line}: {pkg} → {target} (package not placed in LEVELS)")
        elif target in FORBIDDEN.get(pkg, set()):
            bad.append(f"{where}:{line}: {pkg} must never import {target}")
        elif LEVELS[target] > LEVELS[pkg]:
            bad.append(f"{where}:{line}: {pkg} (level {LEVELS[pkg]}) imports {target} (level {LEVELS[target]})")
        elif LEVELS[target] == LEVELS[pkg] and (pkg, target) not in SIBLING_EDGES:
            bad.append(f"{where}:{line}: {pkg} imports its sibling {target} (not in SIBLING_EDGES)")
    return bad


def test_every_package_of_src_is_placed_in_a_level() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    modules = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= set(LEVELS), sorted((packages | modules) - set(LEVELS))


def test_the_walk_sees_imports() -> None:
    edges = {(a, b) for a, b, _, _ in _edges()}
    assert ("cli", "migration") in edges
    assert ("migration", "crypto") in edges


def test_imports_flow_one_way() -> None:
    bad = _violations()
    assert not bad, "imports against the layering of STYLE.md:\n" + "\n".join(bad)


def test_sibling_edges_do_not_form_a_cycle() -> None:
    edges = {(a, b) for a, b, _, _ in _edges() if a in LEVELS and b in LEVELS and LEVELS[a] == LEVELS[b]}
    for a, b in edges:
        assert (b, a) not in edges, f"{a} and {b} import each other"


@pytest.mark.parametrize("edge", sorted(SIBLING_EDGES))
def test_every_allowed_sibling_edge_is_still_used(edge: tuple[str, str]) -> None:
    edges = {(a, b) for a, b, _, _ in _edges()}
    assert edge in edges, f"{edge} is allowed but no longer used: remove it from SIBLING_EDGES"

# SPDX-License-Identifier: GPL-3.0-or-later
"""The architecture, checked: which package may import which, no module-level circles, small modules.

Every import counts: module-level, function-local, ``importlib.import_module`` targets and the
module names a dynamically importing module keeps in tables (``__init__``'s lazy block names,
the backend registry's "module:attribute" strings). docs/architecture.md draws the same map.
"""
import ast
import re
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "python" / "gensemcom"
PREFIX = "gnuradio.gensemcom"
MAX_MODULE_LINES = 500

# layer -> the layers it may import (itself included). Top-level modules are "foundation",
# the package's own __init__ (GRC's entry point: lazy block names) is "package".
ALLOWED = {
    "foundation": {"foundation"},
    "transport": {"foundation", "transport"},
    "classical": {"foundation", "transport", "classical"},
    "semantic": {"foundation", "transport", "classical", "semantic"},
    "models": {"foundation", "transport", "classical", "semantic", "models"},
    "phy": {"foundation", "phy"},
    "link": {"foundation", "transport", "classical", "phy", "link"},
    "blocks": {"foundation", "transport", "classical", "semantic", "models", "phy", "link", "blocks"},
    "flowgraphs": {"foundation", "transport", "classical", "semantic", "models", "phy", "link", "blocks",
                   "flowgraphs"},
    "bench": {"foundation", "transport", "classical", "semantic", "models", "phy", "link", "blocks",
              "flowgraphs", "bench"},
    "cli": {"foundation", "transport", "classical", "semantic", "models", "phy", "link", "blocks",
            "flowgraphs", "bench", "cli"},
    "package": {"foundation", "phy", "blocks"},
}
# layers that must run without GNU Radio (no gnuradio.* or pmt import of their own)
NO_GNURADIO = {"foundation", "transport", "classical", "semantic", "models", "link"}
MODULE_STRING = re.compile(r"^(?:gnuradio\.gensemcom\.)?([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)(?::\w+)?$")


def module_name(path: Path) -> str:
    """'semantic.codec' for python/gensemcom/semantic/codec.py; '' for the package __init__."""
    parts = list(path.relative_to(PACKAGE_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str, known: set) -> str:
    if module == "":
        return "package"
    first = module.split(".")[0]
    return first if first in ALLOWED and first != "package" else "foundation"


def all_modules() -> dict:
    """Every module of the package; the QA files (qa_*.py, ctest's, not installed) are tests."""
    return {module_name(p): p for p in PACKAGE_ROOT.rglob("*.py") if not p.name.startswith("qa_")}


def imports_of(source: str, module: str, is_package: bool, known: set):
    """[(target, line, kind)]: internal targets as module names ('phy.mcs'), external ones as
    'ext:gnuradio.gr' / 'ext:pmt'. kind: 'top' (module level) or 'local'/'dynamic'."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found = []

    def resolve_relative(level, name):
        base = package.split(".") if package else []
        if level > 1:
            base = base[:len(base) - (level - 1)]
        return ".".join(base + ([name] if name else []))

    def add(target, node, kind):
        if target.startswith(PREFIX):
            target = target[len(PREFIX):].lstrip(".")
            found.append((target, node.lineno, kind))
        elif target.split(".")[0] == "pmt" or target == "gnuradio" or target.startswith("gnuradio."):
            found.append(("ext:" + target, node.lineno, kind))

    dynamic = False
    for node in ast.walk(tree):
        kind = "top" if id(node) in top_level else "local"
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node, kind)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = resolve_relative(node.level, node.module)
                for alias in node.names:
                    sub = f"{base}.{alias.name}" if base else alias.name
                    found.append((sub if sub in known else base, node.lineno, kind))
            elif node.module:
                if node.module == "gnuradio":
                    for alias in node.names:
                        add(f"gnuradio.{alias.name}", node, kind)
                else:
                    add(node.module, node, kind)
                    for alias in node.names:
                        if f"{node.module}.{alias.name}".startswith(PREFIX + ".") and \
                                f"{node.module}.{alias.name}"[len(PREFIX) + 1:] in known:
                            add(f"{node.module}.{alias.name}", node, kind)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__"):
            dynamic = True
    if dynamic:
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = MODULE_STRING.match(node.value)
                if not match:
                    continue
                name = match.group(1)
                for candidate in (name, f"{package}.{name}" if package else name):
                    if candidate in known and (node.value.startswith(PREFIX) or "." in name or package):
                        found.append((candidate, node.lineno, "dynamic"))
                        break
    return found


def violations(sources: dict) -> list:
    """Forbidden arrows in ``sources`` {module name: (source text, is_package)}."""
    known = set(sources)
    out = []
    for module, (source, is_package) in sorted(sources.items()):
        mine = layer_of(module, known)
        for target, line, kind in imports_of(source, module, is_package, known):
            if target.startswith("ext:"):
                if mine in NO_GNURADIO:
                    out.append(f"{module}:{line} ({mine}) imports {target[4:]} ({kind}): "
                               f"{mine} must not import GNU Radio")
                continue
            theirs = layer_of(target, known)
            if theirs not in ALLOWED[mine]:
                out.append(f"{module}:{line} ({mine}) imports {target} ({theirs}, {kind})")
    return out


def module_level_cycles(sources: dict) -> list:
    """Strongly connected components (> 1 module) of the module-level import graph."""
    known = set(sources)
    graph = {m: set() for m in sources}
    for module, (source, is_package) in sources.items():
        for target, _, kind in imports_of(source, module, is_package, known):
            if kind == "top" and target in known and target != module:
                # importing a package runs its __init__: an edge to the package
                graph[module].add(target)
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def tree_sources() -> dict:
    return {name: (path.read_text(), path.name == "__init__.py") for name, path in all_modules().items()}


def test_every_import_follows_the_architecture():
    found = violations(tree_sources())
    assert not found, "forbidden imports:\n" + "\n".join(found)


def test_no_module_level_import_circle():
    cycles = module_level_cycles(tree_sources())
    assert not cycles, f"module-level import circles: {cycles}"


def test_no_module_over_500_lines():
    long = {name or "__init__": len(path.read_text().splitlines()) for name, path in all_modules().items()}
    long = {name: n for name, n in long.items() if n > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_every_package_is_a_known_layer():
    packages = {p.parent.relative_to(PACKAGE_ROOT).parts[0] for p in PACKAGE_ROOT.glob("*/__init__.py")}
    assert packages <= set(ALLOWED), f"packages without a layer in ALLOWED: {packages - set(ALLOWED)}"


@pytest.mark.parametrize("module, source, expected", [
    # a module-level import of a higher layer
    ("semantic.bad", "from ..blocks import fragmenter\n", "semantic.bad:1 (semantic) imports blocks.fragmenter"),
    # function-local imports count too
    ("transport.bad", "def f():\n    from ..link.profile import LinkProfile\n",
     "transport.bad:2 (transport) imports link.profile"),
    # so do import_module targets
    ("phy.bad", "import importlib\nimportlib.import_module('gnuradio.gensemcom.semantic.codec')\n",
     "phy.bad:2 (phy) imports semantic.codec"),
    # GNU Radio below the PHY
    ("semantic.bad", "def f():\n    from gnuradio import gr\n", "must not import GNU Radio"),
    ("transport.bad", "import pmt\n", "must not import GNU Radio"),
    # nothing below reaches up to cli, bench or flowgraphs
    ("blocks.bad", "from ..flowgraphs.transmit import run_transmission\n", "(blocks) imports flowgraphs.transmit"),
    ("link.bad", "from ..bench import sweep\n", "(link) imports bench.sweep"),
])
def test_a_forbidden_import_is_caught(module, source, expected):
    sources = tree_sources()
    sources[module] = (source, False)
    found = violations(sources)
    assert any(expected in line for line in found), found


def test_a_module_level_circle_is_caught():
    sources = tree_sources()
    sources["transport.loop_a"] = ("from .loop_b import x\n", False)
    sources["transport.loop_b"] = ("from .loop_a import y\n", False)
    assert ["transport.loop_a", "transport.loop_b"] in module_level_cycles(sources)

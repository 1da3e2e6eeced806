"""Checks on the shape of the code itself: layering rules that review alone lets slip.

- No module-level import cycles among distgrad's modules.  An edge goes from a
  module to every distgrad module its top-level ``import`` statements load
  (``from distgrad.x import y`` loads ``distgrad.x``, and ``distgrad.x.y`` when
  that is a module).  Package ``__init__`` files only re-export, so they are
  left out of the graph: ``from distgrad.nn import functional`` is an edge to
  ``distgrad.nn.functional``, not to ``distgrad.nn``.
- Only ``distgrad/backend.py`` tells NumPy from CuPy (``xp.__name__``).
- Every import inside a function carries a one-line reason (a comment on its
  line or the line above), because such imports hide dependencies.
- Above autograd (nn, optim, comm) nothing reads ``Tensor._data``; those layers
  go through ``distgrad.autograd.raw``.
"""

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PKG = ROOT / "distgrad"


def _module_name(path):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources():
    return {p: p.read_text() for p in sorted(PKG.rglob("*.py"))}


SOURCES = _sources()
MODULES = {_module_name(p): p for p in SOURCES}


def _is_package(name):
    return name in MODULES and MODULES[name].name == "__init__.py"


def _resolve(name):
    """The module file ``name`` names, or None when it is not a distgrad module."""
    return name if name in MODULES else None


def _top_level_imports(path, tree):
    """Distgrad modules imported by statements that run at import time (not in a def)."""
    me = _module_name(path)
    pkg = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = set()

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if _resolve(alias.name):
                        found.add(alias.name)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = pkg.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                if _resolve(base):
                    found.add(base)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    if _resolve(sub):
                        found.add(sub)
            visit(child)

    visit(tree)
    return found


def _is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_graph():
    graph = {}
    for path, text in SOURCES.items():
        name = _module_name(path)
        if _is_package(name):
            continue
        targets = _top_level_imports(path, ast.parse(text))
        graph[name] = {t for t in targets if not _is_package(t) and t != name}
    return graph


def _find_cycle(graph):
    """One import cycle as a list of module names, or None (iterative DFS)."""
    colour = {}
    for start in sorted(graph):
        if colour.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        colour[start] = 1
        path = [start]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in graph:
                    continue
                if colour.get(child) == 1:
                    return path[path.index(child):] + [child]
                if not colour.get(child):
                    colour[child] = 1
                    path.append(child)
                    stack.append((child, iter(sorted(graph[child]))))
                    break
            else:
                colour[node] = 2
                stack.pop()
                path.pop()
    return None


def test_no_module_level_import_cycles():
    cycle = _find_cycle(_import_graph())
    assert cycle is None, "module-level import cycle: " + " -> ".join(cycle)


def test_cycle_finder_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_only_backend_tells_numpy_from_cupy():
    offenders = [
        str(p.relative_to(ROOT))
        for p, text in SOURCES.items()
        if p.name != "backend.py" and re.search(r"xp\.__name__|__name__\s*==\s*['\"](numpy|cupy)", text)
    ]
    assert offenders == []


def _function_local_imports(tree):
    out = []

    def visit(node, in_def):
        for child in ast.iter_child_nodes(node):
            inner = in_def or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if in_def and isinstance(child, (ast.Import, ast.ImportFrom)):
                out.append(child.lineno)
            visit(child, inner)

    visit(tree, False)
    return out


def test_function_local_imports_say_why():
    missing = []
    for path, text in SOURCES.items():
        lines = text.splitlines()
        for lineno in _function_local_imports(ast.parse(text)):
            here = lines[lineno - 1]
            above = lines[lineno - 2].strip() if lineno >= 2 else ""
            if "#" not in here and not above.startswith("#"):
                missing.append(f"{path.relative_to(ROOT)}:{lineno}: {here.strip()}")
    assert missing == [], "function-local imports without a reason comment:\n" + "\n".join(missing)


@pytest.mark.parametrize("layer", ["nn", "optim", "comm"])
def test_layers_above_autograd_use_the_raw_accessor(layer):
    offenders = []
    for path, text in SOURCES.items():
        if (PKG / layer) not in path.parents:
            continue
        for i, line in enumerate(text.splitlines(), 1):
            if re.search(r"\._data\b", line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert offenders == [], "Tensor._data read outside autograd:\n" + "\n".join(offenders)


def test_no_late_bound_classes():
    """The autograd core imports Tensor like any other name; no ``Tensor = None`` patched in later."""
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p, text in SOURCES.items()
        for i, line in enumerate(text.splitlines(), 1)
        if re.match(r"\s*(Tensor\s*=\s*None|global\s+Tensor\b|def\s+bind_tensor_class\b)", line)
    ]
    assert offenders == []


def _history_links(tree):
    """(line, attribute) of each assignment to ``grad_fn``, ``_output_nr`` or ``_next`` that is not a reset."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs = [(target, node.value)]
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs = list(zip(target.elts, node.value.elts))
            for t, v in pairs:
                if isinstance(t, ast.Attribute) and t.attr in ("grad_fn", "_output_nr", "_next"):
                    if not (isinstance(v, ast.Constant) and v.value in (None, 0)):
                        found.append((node.lineno, t.attr))
    return found


def test_graph_wiring_happens_in_one_place():
    """Only autograd/wiring.py links tensors and nodes (``grad_fn``, ``_output_nr``, a node's ``_next``);
    elsewhere these are only reset (to None or 0)."""
    offenders = [f"{p.relative_to(ROOT)}:{line}: .{attr} = ..."
                 for p, text in SOURCES.items() if p != PKG / "autograd" / "wiring.py"
                 for line, attr in _history_links(ast.parse(text))]
    assert offenders == [], "graph wiring outside autograd/wiring.py:\n" + "\n".join(offenders)


def test_nn_imports_nothing_of_comm_at_module_level():
    # comm builds on nn (SyncBatchNorm subclasses _BatchNorm, DDP wraps Modules); nn's PyTorch-path names for
    # them (nn.SyncBatchNorm, nn.parallel.DistributedDataParallel) resolve on first use instead, so the
    # package-level cycle comm.ddp -> sync_batchnorm -> nn -> nn.parallel -> comm.ddp is gone
    offenders = []
    for path, text in SOURCES.items():
        name = _module_name(path)
        if name != "distgrad.nn" and not name.startswith("distgrad.nn."):
            continue
        if name == "distgrad.nn.modules":  # PyTorch's file paths, loaded only when a program names
            continue                         # torch.nn.modules; it maps batchnorm.SyncBatchNorm and closes no cycle
        for target in _top_level_imports(path, ast.parse(text)):
            if target.startswith("distgrad.comm"):
                offenders.append(f"{name} -> {target}")
    assert offenders == [], offenders

"""No import cycle between infozoo's modules at module level (a package importing its own
submodules, e.g. ``infozoo.probe`` and ``infozoo.probe.probe``, is not a cycle)."""
import ast
import os

from conftest import REPO


def import_graph(toplevel_only=True):
    root = os.path.join(REPO, "infozoo")
    mods = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), REPO)[:-3]
                mods[rel.replace(os.sep, ".").removesuffix(".__init__")] = os.path.join(d, f)
    graph = {}
    for name, path in mods.items():
        tree = ast.parse(open(path).read())
        nodes = tree.body if toplevel_only else list(ast.walk(tree))
        out = set()
        for n in nodes:
            if isinstance(n, ast.Import):
                out |= {a.name for a in n.names}
            elif isinstance(n, ast.ImportFrom) and n.module:
                out |= {n.module} | {f"{n.module}.{a.name}" for a in n.names}
        graph[name] = {d for d in out if d in mods and d != name
                       and not name.startswith(d + ".") and not d.startswith(name + ".")}
    return graph


def cycles(graph):
    found, state = [], {}

    def visit(node, stack):
        state[node] = 1
        for d in sorted(graph[node]):
            if state.get(d) == 1:
                found.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack + [d])
        state[node] = 2
    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return found


def test_no_module_level_import_cycle():
    graph = import_graph()
    assert "infozoo.run.train" in graph and "infozoo.models.base" in graph
    assert cycles(graph) == []


def test_no_import_cycle_counting_imports_inside_functions():
    """Lazy imports (inside functions, to keep TensorFlow out of the CLI's start) make no
    cycle either."""
    assert cycles(import_graph(False)) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]

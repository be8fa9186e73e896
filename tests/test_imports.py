"""Imports flow one way: no cycles between the project's modules (an import inside a function
counts: it hides a cycle, it does not remove it), the core never imports the capabilities or
the platforms, and only the Slack platform imports Slack's libraries.

The layers, outermost first:
- the entry points: `chatbot.cli` (the command) and `chatbot.app` (composition: it lists
  `commands`);
- the platforms: `chatbot.platforms.*` (only `chatbot.platforms.slack` may import slack_bolt and
  slack_sdk);
- the capabilities: `commands.*`;
- the core: every other `chatbot` module.
A capability that reacts to another's change connects to a signal (`chatbot.signals`) instead of
being imported by it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("chatbot", "commands")
SLACK_LIBRARIES = ("slack_bolt", "slack_sdk")
ENTRY_POINTS = ("chatbot.cli", "chatbot.app")


def _modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "migrations" in parts:  # Alembic's scripts, run by Alembic, not imported
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imported(name: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Every module an import statement anywhere in the file names (at module level, in
    functions, under TYPE_CHECKING), with its line. `from a import b` names the module `a.b`
    when there is one (it needs `a.b`, not everything `a/__init__.py` imports), else `a`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in modules else base), node.lineno


def import_graph(
    root: Path = ROOT, packages: tuple[str, ...] = PACKAGES
) -> tuple[dict[str, set[str]], dict[str, list[tuple[str, int]]]]:
    """Which project modules each project module imports; and every import of each (any module,
    with its line) for the layering rules."""
    modules = _modules(root, packages)
    edges: dict[str, set[str]] = {}
    imports: dict[str, list[tuple[str, int]]] = {}
    for name, path in modules.items():
        imports[name] = sorted(
            set(_imported(name, path, modules)), key=lambda item: (item[1], item[0])
        )
        edges[name] = {target for target, _ in imports[name] if target in modules} - {name}
    return edges, imports


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a
    sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _within(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in prefixes)


def _violations(imports: dict[str, list[tuple[str, int]]]) -> list[str]:
    found = []
    for module, targets in sorted(imports.items()):
        for target, line in targets:
            where = f"{module}:{line} imports {target}"
            if _within(target, *SLACK_LIBRARIES) and not _within(module, "chatbot.platforms.slack"):
                found.append(f"{where}: only chatbot.platforms.slack may use Slack's libraries")
            if (
                _within(target, "commands")
                and _within(module, "chatbot")
                and not _within(module, *ENTRY_POINTS)
            ):
                found.append(f"{where}: the core never imports the capabilities")
            if _within(target, *ENTRY_POINTS) and not _within(module, *ENTRY_POINTS):
                found.append(f"{where}: only the entry points import the entry points")
            if _within(target, "chatbot.platforms") and not _within(
                module, "chatbot.platforms", *ENTRY_POINTS
            ):
                found.append(f"{where}: the core and the capabilities never import a platform")
            if _within(module, "chatbot.platforms") and _within(target, "chatbot.platforms"):
                mine, theirs = module.split(".")[2:3], target.split(".")[2:3]
                if mine and theirs and theirs != mine:
                    found.append(f"{where}: a platform never imports another platform")
    return found


def _cycle_report(found: list[list[str]], edges: dict[str, set[str]]) -> str:
    lines = []
    for component in found:
        members = set(component)
        lines.append(" <-> ".join(component))
        for module in component:
            for target in sorted(edges[module] & members):
                lines.append(f"    {module} -> {target}")
    return "\n".join(lines)


def test_no_import_cycles_between_project_modules() -> None:
    edges, _imports = import_graph()
    found = cycles(edges)
    assert not found, "import cycles:\n" + _cycle_report(found, edges)


def test_imports_flow_from_the_entry_points_to_the_core() -> None:
    _edges, imports = import_graph()
    assert not _violations(imports), "\n".join(_violations(imports))


def test_the_graph_sees_imports_inside_functions_and_finds_a_hidden_cycle(
    tmp_path: Path,
) -> None:
    """The checks above are only as good as the graph: an import inside a function, a relative
    import and a `from package import module` are edges, and a cycle through them is found."""
    package = tmp_path / "chatbot"
    (package / "platforms" / "slack").mkdir(parents=True)
    for init in (package, package / "platforms", package / "platforms" / "slack"):
        (init / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from chatbot import b\n    return b\n")
    (package / "b.py").write_text("from . import c\n")
    (package / "c.py").write_text(
        "import slack_sdk\n\n\ndef g():\n    import chatbot.a\n    from commands import x\n"
    )
    (package / "platforms" / "slack" / "ok.py").write_text("from slack_bolt import App\n")
    edges, imports = import_graph(tmp_path, ("chatbot",))
    assert edges["chatbot.a"] == {"chatbot.b"}
    assert edges["chatbot.b"] == {"chatbot.c"}
    assert cycles(edges) == [["chatbot.a", "chatbot.b", "chatbot.c"]]
    assert _violations(imports) == [
        "chatbot.c:1 imports slack_sdk: only chatbot.platforms.slack may use Slack's libraries",
        "chatbot.c:6 imports commands: the core never imports the capabilities",
    ]


def test_the_project_graph_counts_the_imports_inside_functions() -> None:
    """The composition root imports the capabilities inside `build_bot`: that edge is seen."""
    edges, _imports = import_graph()
    assert "commands" in edges["chatbot.app"]
    assert {"commands.pulse", "commands.techhelp"} <= edges["commands.home"]

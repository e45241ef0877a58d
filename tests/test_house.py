"""The package's shape: each module imports only those before it in the data flow (issue 35:
no import circles), and the networks' layer imports nothing above it."""

import ast
from pathlib import Path

import lookalike

PACKAGE = Path(lookalike.__file__).parent


def imports() -> dict[str, set[str]]:
    """Each module of the package and the package's modules it imports (anywhere in it)."""
    modules = {
        ".".join(f.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): f
        for f in PACKAGE.rglob("*.py")
    }
    out = {}
    for name, path in modules.items():
        base = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                parts = base.split(".")
                root = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{root}.{node.module}" if node.module else root
                found |= {module, *(f"{module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.ImportFrom):
                found.add(node.module or "")
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        out[name] = {m for m in found if m in modules and m not in (name, "lookalike")}
    return out


def test_no_module_imports_one_that_imports_it_back():
    edges = imports()

    def reaches(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in edges[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    circles = sorted(m for m in edges if m in reaches(m))
    assert circles == []


def test_the_networks_import_nothing_above_them():
    edges = imports()
    models = {m for m in edges if m.startswith("lookalike.models")}
    above = {m: deps - models for m, deps in edges.items() if m in models}
    assert above == {m: set() for m in models}

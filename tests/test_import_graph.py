"""The import graph of `app`: no module imports itself back through others, billing never
imports payments, and no domain imports another domain's routes."""

import ast
from pathlib import Path

APP = Path(__file__).parents[1] / "app"


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in APP.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets |= {f"{node.module}.{alias.name}" for alias in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return path + [node, target]
            if target not in state and (cycle := visit(target, path + [node])):
                return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node, [])):
            return cycle
    return None


def domain(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def test_no_import_cycles_between_modules():
    # A package's __init__ importing its own submodules (to register routes) is not a cycle
    # between domains; leave those edges out.
    graph = {name: {t for t in targets if not (name.count(".") == 1 and t.startswith(name))}
             for name, targets in imports().items()}
    assert find_cycle(graph) is None


def test_billing_never_imports_payments():
    offenders = {name: sorted(t for t in targets if domain(t) == "payments")
                 for name, targets in imports().items() if domain(name) == "billing"}
    assert {name: t for name, t in offenders.items() if t} == {}


def test_no_domain_imports_another_domains_routes():
    offenders = [(name, target) for name, targets in imports().items() for target in targets
                 if target.endswith(".routes") and domain(target) != domain(name)]
    assert offenders == []


def test_the_ledger_depends_on_no_domain():
    assert {domain(t) for t in imports()["app.ledger.services"] | imports()["app.ledger.models"]
            } <= {"ledger", "extensions", "money", "accounts"}

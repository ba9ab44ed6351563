"""The arrangement every service keeps (docs/platform.md, "Inside a service"), checked on
the import graph and the syntax tree of the code itself:

- ``domain/`` is plain Python: no database, web framework, HTTP client or broker, and
  none of the service's other layers;
- ``api/`` is HTTP only: it opens no transaction and touches no outbox (the use cases in
  ``flows/`` do), and ``flows/`` never reaches back into ``api/``;
- no service imports another, and the platform imports no service.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("identity", "tickets", "billing", "loyalty", "notify")
# What a domain module may not import (I/O and frameworks), by top-level package.
DOMAIN_FORBIDDEN = ("sqlalchemy", "fastapi", "starlette", "httpx", "aiokafka", "asyncpg")
# Calls that open or join a transaction, and names that write events.
TRANSACTION_CALLS = {"begin", "begin_nested", "run_idempotent", "create_once"}
OUTBOX_NAMES = {"outbox", "forget_customer_history"}


@dataclass(frozen=True)
class Module:
    path: Path
    name: str  # dotted, e.g. sila_tickets.api.tickets
    tree: ast.Module

    def imports(self) -> Iterator[tuple[int, str]]:
        """(line, imported module) for every import, relative ones resolved."""
        package = self.name.rsplit(".", 1)[0]
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                yield node.lineno, base
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}"


def modules_of(package_dir: Path, package: str) -> list[Module]:
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir).with_suffix("")
        if "migrations" in relative.parts:
            continue  # frozen history, run by Alembic
        parts = [p for p in relative.parts if p != "__init__"]
        name = ".".join([package, *parts])
        found.append(Module(path, name, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def service_modules(service: str) -> list[Module]:
    package = f"sila_{service}"
    return modules_of(ROOT / "services" / service / package, package)


def in_layer(module: Module, service: str, layer: str) -> bool:
    prefix = f"sila_{service}.{layer}"
    return module.name == prefix or module.name.startswith(prefix + ".")


def domain_violations(module: Module, service: str) -> list[str]:
    own_layers = tuple(f"sila_{service}.{layer}" for layer in ("api", "flows", "tables"))
    found = []
    for line, imported in module.imports():
        top = imported.split(".")[0]
        if top in DOMAIN_FORBIDDEN or imported.startswith(own_layers):
            found.append(f"{module.path}:{line} imports {imported}")
    return found


def api_violations(module: Module) -> list[str]:
    found = []
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name in TRANSACTION_CALLS:
                found.append(f"{module.path}:{node.lineno} calls {name}()")
        elif isinstance(node, ast.Attribute) and node.attr in OUTBOX_NAMES:
            found.append(f"{module.path}:{node.lineno} uses .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in OUTBOX_NAMES:
            found.append(f"{module.path}:{node.lineno} uses {node.id}")
    for line, imported in module.imports():
        if imported == "sila_common.outbox" or imported.startswith("sila_common.outbox."):
            found.append(f"{module.path}:{line} imports {imported}")
    return found


def foreign_imports(module: Module, allowed: str | None) -> list[str]:
    found = []
    for line, imported in module.imports():
        top = imported.split(".")[0]
        if top.startswith("sila_") and top not in ("sila_common", allowed):
            found.append(f"{module.path}:{line} imports {imported}")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_the_domain_is_plain_python(service: str) -> None:
    domain = [m for m in service_modules(service) if in_layer(m, service, "domain")]
    assert [v for m in domain for v in domain_violations(m, service)] == []


@pytest.mark.parametrize("service", SERVICES)
def test_the_api_opens_no_transaction_and_writes_no_event(service: str) -> None:
    api = [m for m in service_modules(service) if in_layer(m, service, "api")]
    assert api, f"sila_{service} has an api/ package"
    assert [v for m in api for v in api_violations(m)] == []


@pytest.mark.parametrize("service", SERVICES)
def test_the_use_cases_never_reach_back_into_the_api(service: str) -> None:
    flows = [m for m in service_modules(service) if in_layer(m, service, "flows")]
    api = f"sila_{service}.api"
    assert [
        f"{m.path}:{line} imports {imported}"
        for m in flows
        for line, imported in m.imports()
        if imported == api or imported.startswith(api + ".")
    ] == []


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another(service: str) -> None:
    modules = service_modules(service)
    assert [v for m in modules for v in foreign_imports(m, f"sila_{service}")] == []


def test_the_platform_imports_no_service() -> None:
    modules = modules_of(ROOT / "libs" / "common" / "sila_common", "sila_common")
    assert modules
    assert [v for m in modules for v in foreign_imports(m, None)] == []


@pytest.mark.parametrize("service", ["identity", "tickets", "notify"])
def test_services_with_use_cases_keep_them_in_flows(service: str) -> None:
    names = {m.name for m in service_modules(service)}
    assert f"sila_{service}.flows" in names
    assert f"sila_{service}.tables" in names


def test_the_checks_catch_what_they_forbid(tmp_path: Path) -> None:
    """The rules above are not vacuous: code breaking each one is caught."""
    package = tmp_path / "sila_demo"
    (package / "api").mkdir(parents=True)
    (package / "domain").mkdir()
    (package / "api" / "things.py").write_text(
        "from sila_common.outbox import forget_customer_history\n"
        "from sila_tickets.flows import open_ticket\n"
        "async def create(runtime):\n"
        "    async with runtime.session_factory() as session, session.begin():\n"
        "        await runtime.outbox.record(session, None)\n"
    )
    (package / "domain" / "rules.py").write_text(
        "import httpx\nfrom sqlalchemy import select\nfrom sila_demo.tables import things\n"
    )
    modules = {m.name: m for m in modules_of(package, "sila_demo")}
    api = modules["sila_demo.api.things"]
    domain = modules["sila_demo.domain.rules"]
    caught = api_violations(api)
    assert any("calls begin()" in v for v in caught)
    assert any("uses .outbox" in v for v in caught)
    assert any("imports sila_common.outbox" in v for v in caught)
    assert {
        v.split(" imports ")[0].rsplit(":", 1)[1] for v in domain_violations(domain, "demo")
    } == {
        "1",
        "2",
        "3",
    }
    assert foreign_imports(api, "sila_demo") != []


# Methods that change a container in place.
MUTATORS = {"add", "append", "clear", "discard", "extend", "insert", "pop", "popitem"}
MUTATORS |= {"remove", "setdefault", "update"}


def module_state(module: Module) -> list[str]:
    """Functions that change a container bound at module level (a process-wide registry, a
    cache, listeners): such state belongs on the runtime (a collaborator), not the module."""
    bound = {
        target.id
        for node in module.tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    found = []
    for function in ast.walk(module.tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Global):
                found.append(f"{module.path}:{node.lineno} declares global {node.names}")
            changed: ast.expr | None = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in MUTATORS:
                    changed = node.func.value
            elif isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
                targets = (
                    node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
                )
                changed = next((t.value for t in targets if isinstance(t, ast.Subscript)), None)
            if isinstance(changed, ast.Name) and changed.id in bound:
                found.append(f"{module.path}:{changed.lineno} changes module-level {changed.id}")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_keeps_state_in_a_module(service: str) -> None:
    assert [v for m in service_modules(service) for v in module_state(m)] == []

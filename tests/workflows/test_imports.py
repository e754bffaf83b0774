"""Workflow modules stay deterministic: they import only the standard library, temporalio,
contracts and workflows, and activities only inside `imports_passed_through()` (STYLE §4.3)."""

from __future__ import annotations

import ast
from pathlib import Path

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
ALLOWED_TOP = {"temporalio", "contracts", "workflows", "__future__", "datetime", "dataclasses",
               "typing", "collections", "enum", "asyncio", "json", "re"}  # fmt: skip
PASSED_THROUGH_ONLY = {"activities"}
FORBIDDEN_CALLS = {("datetime", "now"), ("time", "time"), ("uuid", "uuid4"), ("random", "random")}


def _imports(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module.split(".")[0]]
    return []


def _passed_through(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and "imports_passed_through" in ast.unparse(node.items[0]):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    lines.add(inner.lineno)
    return lines


def test_workflow_modules_import_only_sandbox_safe_code() -> None:
    problems = []
    for path in sorted(WORKFLOWS.glob("*.py")):
        tree = ast.parse(path.read_text())
        passed = _passed_through(tree)
        for node in ast.walk(tree):
            for mod in _imports(node):
                if mod in PASSED_THROUGH_ONLY and node.lineno in passed:  # type: ignore[attr-defined]
                    continue
                if mod not in ALLOWED_TOP:
                    problems.append(f"{path.name}:{node.lineno} imports {mod}")  # type: ignore[attr-defined]
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if isinstance(owner, ast.Name) and (owner.id, node.func.attr) in FORBIDDEN_CALLS:
                    problems.append(f"{path.name}:{node.lineno} calls {owner.id}.{node.func.attr}")
    assert problems == []


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    tree = ast.parse("import sqlalchemy\nfrom activities.messages import X\n")
    mods = [m for n in ast.walk(tree) for m in _imports(n)]
    assert "sqlalchemy" in mods and not ({"sqlalchemy", "activities"} & ALLOWED_TOP)

"""The engine's modules import each other without cycles, and none grows past 500 lines.

A function-level import is how a cycle hides: each one inside ``legato.engine`` must be
on the short list below, with its reason. Everything else is imported at the top of its
module, and importing the modules one by one, in any order, works.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import legato.engine

ENGINE = Path(legato.engine.__file__).parent

# (module, imported module) -> why it is imported inside a function.
ALLOWED_LATE_IMPORTS = {
    ("inputs", "pydantic"): "heavy and only needed once an answer is validated",
}


def late_imports(path: Path) -> list[tuple[str, int]]:
    """``(imported module, line)`` for each import inside a function of ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                found += [(alias.name, inner.lineno) for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.module is not None:
                found.append((inner.module, inner.lineno))
    return found


def engine_modules() -> list[Path]:
    return sorted(p for p in ENGINE.glob("*.py") if p.name != "__init__.py")


def test_no_engine_module_imports_inside_a_function_to_dodge_a_cycle() -> None:
    unexpected = [
        f"{path.name}:{line}: import of {module}"
        for path in engine_modules()
        for module, line in late_imports(path)
        if (path.stem, module) not in ALLOWED_LATE_IMPORTS
    ]
    assert not unexpected, (
        "function-level imports in legato.engine (import at module level, or add to "
        "ALLOWED_LATE_IMPORTS with the reason):\n" + "\n".join(unexpected)
    )


def test_the_allowed_late_imports_are_still_there() -> None:
    present = {(path.stem, module) for path in engine_modules() for module, _ in late_imports(path)}
    stale = sorted(set(ALLOWED_LATE_IMPORTS) - present)
    assert not stale, f"no longer imported late, remove from ALLOWED_LATE_IMPORTS: {stale}"


FIRST_IMPORT = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "legato" or m.startswith("legato.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failed.append(f"{name}: {exc}")
print("\\n".join(failed))
"""


def test_every_engine_module_imports_first_on_its_own() -> None:
    """A cycle shows as an ImportError when its modules are entered from the wrong end."""
    names = [f"legato.engine.{path.stem}" for path in engine_modules()]
    done = subprocess.run(
        [sys.executable, "-c", FIRST_IMPORT, *names], capture_output=True, text=True, check=True
    )
    assert not done.stdout.strip(), done.stdout


def test_no_engine_module_is_over_500_lines() -> None:
    long = {
        path.name: n for path in engine_modules() if (n := len(path.read_text().splitlines())) > 500
    }
    assert not long, f"split these engine modules (STYLE.md: ~500 lines at most): {long}"

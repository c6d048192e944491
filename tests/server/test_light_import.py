"""The server's libraries load only when ``legato server`` runs."""

from __future__ import annotations

import subprocess
import sys

CHECK = (
    "import sys, {module}; "
    "print(sorted(m for m in sys.modules if m.split('.')[0] in "
    "('fastapi', 'uvicorn', 'starlette', 'legato.server') or m.startswith('legato.server')))"
)


def loaded_by(module: str) -> str:
    code = CHECK.format(module=module)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def test_importing_legato_or_its_cli_loads_no_server_library():
    assert loaded_by("legato") == "[]"
    assert loaded_by("legato.cli.main") == "[]"

"""The README's examples, run as a new user would: they must not rot."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
LEGATO = Path(sys.executable).with_name("legato")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "LEGATO_DB": f"sqlite:///{tmp_path / 'readme.db'}"}


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_quickstart_is_exactly_the_two_make_commands() -> None:
    (shell, *_) = blocks("sh")
    commands = [line.split("#")[0].strip() for line in shell.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def test_the_tour_runs_retries_and_resumes(tmp_path: Path, env: dict[str, str]) -> None:
    tour, resume_snippet, context_snippet = blocks("python")
    assert tour.startswith("# tour.py")
    (tmp_path / "tour.py").write_text(tour)

    out = run([sys.executable, "tour.py"], tmp_path, env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3 sources, total score 8.5"

    # The CLI lines of the tour, with the run id filled in.
    out = run(
        [str(LEGATO), "run", "tour.py:daily_report", "-p", 'sources=["crm", "billing"]', "--json"],
        tmp_path,
        env,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["state"] == "completed" and result["result"] == "2 sources, total score 5.0"
    run_id = result["run_id"]
    for args in (["runs", "list"], ["runs", "show", run_id], ["runs", "logs", run_id]):
        out = run([str(LEGATO), *args], tmp_path, env)
        assert out.returncode == 0, out.stderr
    assert run_id[:8] in run([str(LEGATO), "runs", "list"], tmp_path, env).stdout

    # The resume snippet: a completed run resumes to its recorded result.
    script = f"run_id = {run_id!r}\n" + resume_snippet
    out = run([sys.executable, "-c", script], tmp_path, env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "completed 2 sources, total score 5.0"


def test_the_handles_and_child_flows_snippet(tmp_path: Path, env: dict[str, str]) -> None:
    *_, snippet = blocks("python")
    (tmp_path / "snippet.py").write_text(snippet)
    out = run([sys.executable, "snippet.py"], tmp_path, env)
    assert out.returncode == 0, out.stderr
    run_id, state, rest = out.stdout.strip().split(" ", 2)
    assert state == "completed"
    # Each checkout is a child run: its own run id in the idempotency key.
    children = re.fullmatch(r"\['charge-(\w+):charge#0', 'charge-(\w+):charge#0'\]", rest)
    assert children is not None, rest
    assert len({run_id, *children.groups()}) == 3


def test_every_cli_command_in_the_table_has_help() -> None:
    rows = re.findall(r"^\| `legato ([a-z ]+?)(?: [A-Z\[-].*?)?` \|", README.read_text(), re.M)
    assert len(rows) >= 6
    for command in rows:
        args = command.split() if command != "--version" else []
        out = subprocess.run([str(LEGATO), *args, "--help"], capture_output=True, text=True)
        assert out.returncode == 0, (command, out.stderr)
        assert "Example" in out.stdout or "example" in out.stdout, command


def test_importing_the_handles_snippet_starts_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    # A worker imports the file to find `checkout` or `nightly`: that must not run them.
    *_, snippet = blocks("python")
    (tmp_path / "snippet.py").write_text(snippet)
    out = run([sys.executable, "-c", "import snippet"], tmp_path, env)
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    # No run was started: the store was not even created (reading commands then say so).
    assert not (tmp_path / "readme.db").exists()
    listed = run([str(LEGATO), "runs", "list", "--json"], tmp_path, env)
    assert listed.returncode == 2 and "there is no legato store" in listed.stderr

"""What ``make demo`` runs: the seed's workflows through the real ``legato`` CLI.

Each example runs in its own ``legato run``, so you see the live view of its steps, then
``legato runs list`` shows the runs the store now holds. The store is
``.legato/demo.db`` in the repository unless ``LEGATO_DB`` says otherwise; look at a run
again with ``legato runs show RUN_ID`` and the same ``LEGATO_DB``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = "examples/seed"

# (what it shows, target, parameters)
RUNS: list[tuple[str, str, list[str]]] = [
    ("Simple_Sequence: A -> B -> C", f"{SEED}/sequential.py:simple_sequence", []),
    (
        "Conditional_Path, positive text: routed to marketing",
        f"{SEED}/conditional.py:conditional_path",
        ["text=I love the new release, great work!"],
    ),
    (
        "Conditional_Path, negative text: escalated to support",
        f"{SEED}/conditional.py:conditional_path",
        ["text=The app is broken again, terrible"],
    ),
    (
        "Parallel_Execution: ProcessSource1 and ProcessSource2 at the same time",
        f"{SEED}/parallel.py:parallel_execution",
        [],
    ),
    ("The plain-Python pipeline as a flow", f"{SEED}/pipeline.py:pipeline", ["seed=7"]),
    (
        "Customer_Onboarding: two steps in parallel after SetupAccount",
        f"{SEED}/onboarding.py:customer_onboarding",
        [],
    ),
    (
        "IT_Incident_Response: a database alert pages the DBA and restarts the service",
        f"{SEED}/incident_response.py:it_incident_response",
        [],
    ),
    (
        "The diagram's failure path: B fails twice, Handle Error, Notify, End State",
        f"{SEED}/diagram.py:diagram",
        ["fail_b=true"],
    ),
]


def legato_command() -> list[str]:
    """The ``legato`` script of the interpreter running this file (the project's venv)."""
    script = Path(sys.executable).with_name("legato")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "legato.cli.main"]


def main() -> int:
    if not os.environ.get("LEGATO_DB"):
        store = ROOT / ".legato" / "demo.db"
        store.parent.mkdir(parents=True, exist_ok=True)
        os.environ["LEGATO_DB"] = f"sqlite:///{store}"
    print(f"Store: {os.environ['LEGATO_DB']}\n")
    legato = legato_command()
    failed = []
    for title, target, params in RUNS:
        print(f"=== {title}")
        command = [*legato, "run", target]
        for param in params:
            command += ["-p", param]
        code = subprocess.run(command, cwd=ROOT).returncode
        if code != 0:
            failed.append(f"{target} (exit {code})")
        print()
    print("=== legato runs list")
    subprocess.run([*legato, "runs", "list", "--limit", str(len(RUNS))], cwd=ROOT)
    if failed:
        print(f"\nThese runs did not complete: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(
        f"\nSee one run's steps with: LEGATO_DB={os.environ['LEGATO_DB']} legato runs show RUN_ID"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`legato deploy`, `legato deployments ...` and `legato scheduler` through the real
console script, on a SQLite store in tmp_path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

LEGATO = str(Path(sys.executable).with_name("legato"))
FLOWS = """
from legato import flow, get_run_context

@flow
def report(day: str = "today") -> str:
    return day
"""


@pytest.fixture
def cli(tmp_path: Path):
    (tmp_path / "flows.py").write_text(textwrap.dedent(FLOWS))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEGATO_")}
    env.update(
        LEGATO_DB=f"sqlite:///{tmp_path / 'legato.db'}",
        LEGATO_HOME=str(tmp_path / "home"),
        NO_COLOR="1",
        COLUMNS="200",
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [LEGATO, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
        )

    run.env = env  # type: ignore[attr-defined]
    run.root = tmp_path  # type: ignore[attr-defined]
    return run


def test_a_bad_cron_is_refused_with_option_and_column_and_nothing_is_stored(cli):
    done = cli("deploy", "flows.py:report", "--name", "n", "--cron", "0 25 * * *")
    assert done.returncode == 2
    assert "--cron '0 25 * * *'" in done.stderr and "column 3" in done.stderr
    listed = cli("deployments", "list")
    assert (
        "n " not in listed.stdout
        and "No deployments" in listed.stdout + listed.stderr
        or (listed.returncode != 0)
    )


def test_a_bad_filter_is_refused_with_its_column(cli):
    done = cli("deploy", "flows.py:report", "--on-event", "alert", "--filter", "severity ==")
    assert done.returncode == 2
    assert "--filter" in done.stderr and "column" in done.stderr


def test_deploy_show_backfill_and_runs_list_by_deployment(cli):
    done = cli(
        "deploy",
        "flows.py:report",
        "--name",
        "nightly",
        "--cron",
        "0 2 * * *",
        "--tz",
        "Europe/Paris",
        "-p",
        "day=mon",
    )
    assert done.returncode == 0, done.stderr
    shown = cli("deployments", "show", "nightly")
    assert shown.returncode == 0, shown.stderr
    next_line = next(line for line in shown.stdout.splitlines() if "next" in line)
    assert next_line.count("T00:00:00+00:00") + next_line.count("T01:00:00+00:00") == 5
    args = (
        "deployments",
        "backfill",
        "nightly",
        "--from",
        "2024-05-01T00:00Z",
        "--to",
        "2024-05-03T00:00Z",
    )
    first = cli(*args)
    assert "3 fire times, 3 new runs" in first.stdout, first.stdout + first.stderr
    again = cli(*args)
    assert "0 new runs, 3 already fired" in again.stdout
    runs = cli("runs", "list", "--deployment", "nightly", "--json")
    assert runs.returncode == 0, runs.stderr
    assert runs.stdout.count('"run_id"') == 3
    assert cli("runs", "list", "--deployment", "other", "--json").stdout.strip() == "[]"


def test_deploy_file_dry_run_prints_changes_and_stores_nothing(cli):
    (cli.root / "deployments.yaml").write_text(
        textwrap.dedent(
            """
            deployments:
              - name: hourly
                target: flows.py:report
                params: {day: x}
                triggers:
                  - every: 1h
                  - on_event: alert
                    filter: severity == "CRITICAL"
            """
        )
    )
    dry = cli("deploy", "--file", "deployments.yaml", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "hourly: would create" in dry.stdout
    applied = cli("deploy", "--file", "deployments.yaml")
    assert "hourly: create" in applied.stdout
    assert "hourly: unchanged" in cli("deploy", "--file", "deployments.yaml").stdout
    assert "every 1h" in cli("deployments", "list").stdout


def _fires(cli) -> list[str]:
    done = cli("deployments", "show", "tick", "--json")
    import json

    return [f["key"] for f in json.loads(done.stdout)["fires"]]


@pytest.mark.slow
def test_the_standby_scheduler_takes_over_when_the_active_one_is_killed(cli):
    assert cli("deploy", "flows.py:report", "--name", "tick", "--every", "1s").returncode == 0
    logs = [(cli.root / f"s{n}.log").open("w") for n in range(2)]
    procs = [
        subprocess.Popen(
            [LEGATO, "scheduler", "--lease", "2", "--interval", "0.1"],
            env=cli.env,
            cwd=cli.root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        time.sleep(4)
        before = _fires(cli)
        assert before
        active = next(
            proc
            for n, proc in enumerate(procs)
            if "is active" in (cli.root / f"s{n}.log").read_text()
        )
        active.send_signal(signal.SIGKILL)
        active.wait()
        time.sleep(6)
        after = cli("deployments", "show", "tick", "--json")
        import json

        keys = [f["key"] for f in json.loads(after.stdout)["fires"]]
        assert len(keys) == len(set(keys))
        standby = next(p for p in procs if p is not active)
        assert standby.poll() is None
        n = procs.index(standby)
        assert "is active" in (cli.root / f"s{n}.log").read_text()
        newest = max(keys)
        assert newest > max(before)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)

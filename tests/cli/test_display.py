"""How the CLI shows values and history: big values are shortened (and can be seen whole),
classes from file-loaded flows show as values, and ``runs show`` keeps what matters in a
long history."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .conftest import Cli

BIG = """
    from legato import flow

    @flow
    def big() -> list[int]:
        return list(range(200_000))

    @flow
    def total(items: list[int], label: str = "") -> str:
        return f"{label}{sum(items)}"

    @flow
    def deep(text: str) -> dict:
        return {
            "text": text,
            "nested": [[[[[[["bottom"]]]]]]],
            "rows": [{"id": i, "name": "row" * 30} for i in range(15)],
            "keys": {f"key{i}": "v" * 20 for i in range(15)},
        }
"""

SHAPES = """
    from dataclasses import dataclass
    from enum import Enum

    from pydantic import BaseModel

    from legato import flow, task

    @dataclass
    class Point:
        x: int
        y: int

    class Color(Enum):
        RED = 1

    class Box(BaseModel):
        name: str
        corner: Point
        tags: tuple[str, ...] = ()

    @task
    def twice(p: Point) -> Point:
        return Point(x=p.x * 2, y=p.y * 2)

    @flow
    def moved(p: Point, box: Box, color: Color = Color.RED) -> Box:
        return Box(name=box.name, corner=twice(p), tags=("a", "b"))
"""


def run_id_of(cli: Cli, flow: str) -> str:
    (run,) = [r for r in cli.runs() if r["flow"] == flow]
    return str(run["run_id"])


# -- item 4: big values -----------------------------------------------------------------


def test_big_result_is_shortened_with_a_way_to_see_all(cli: Cli) -> None:
    cli.write_flow("big.py", BIG)

    done = cli("run", "big.py:big")

    assert done.returncode == 0, done.stderr
    run_id = run_id_of(cli, "big")
    assert len(done.stdout) < 5_000, len(done.stdout)
    assert "[0, 1, 2," in done.stdout and "199999" not in done.stdout
    assert f"legato runs result {run_id} > result.json" in done.stdout

    shown = cli("runs", "show", run_id)
    assert shown.returncode == 0, shown.stderr
    assert len(shown.stdout) < 10_000, len(shown.stdout)
    assert f"legato runs show {run_id} --full" in shown.stdout
    assert "199999" not in shown.stdout

    full = cli("runs", "show", run_id, "--full")
    assert full.returncode == 0, full.stderr
    assert "199998,199999]" in re.sub(r"\s+", "", full.stdout)
    assert "--full" not in full.stdout

    result = cli("runs", "result", run_id)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == list(range(200_000))
    assert cli.json("runs", "show", run_id)["result"] == list(range(200_000))


def test_long_strings_deep_nesting_and_many_lines_are_shortened(cli: Cli) -> None:
    cli.write_flow("big.py", BIG)

    done = cli("run", "big.py:deep", "-p", "text=" + "x" * 5_000)

    assert done.returncode == 0, done.stderr
    run_id = run_id_of(cli, "deep")
    assert "x" * 5_000 not in done.stdout and "x" * 100 in done.stdout
    assert "'bottom'" not in done.stdout  # seven levels down
    assert "'id': 14" in done.stdout
    assert "'key0'" in done.stdout
    assert "'key14'" not in done.stdout  # one line per item: cut to a screenful
    assert f"legato runs result {run_id}" in done.stdout
    whole = json.loads(cli("runs", "result", run_id).stdout)
    assert whole["text"] == "x" * 5_000 and whole["keys"]["key14"] == "v" * 20
    assert whole["nested"] == [[[[[[["bottom"]]]]]]]


def test_small_values_are_shown_whole_without_a_note(cli: Cli) -> None:
    cli.write_flow("big.py", BIG)

    done = cli("run", "big.py:total", "-p", "items=[1, 2, 3]", "-p", "label=sum ")

    assert done.returncode == 0, done.stderr
    assert "'sum 6'" in done.stdout
    assert "runs result" not in done.stdout and "--full" not in done.stdout
    shown = cli("runs", "show", run_id_of(cli, "total"))
    assert "{'items': [1, 2, 3], 'label': 'sum '}" in shown.stdout
    assert "--full" not in shown.stdout


def test_parameter_read_from_a_file_with_at(cli: Cli) -> None:
    cli.write_flow("big.py", BIG)
    (cli.root / "items.json").write_text(json.dumps(list(range(200_000))))
    (cli.root / "label.txt").write_text("total: ")

    done = cli("run", "big.py:total", "-p", "items=@items.json", "-p", "label=@label.txt")

    assert done.returncode == 0, done.stderr
    assert f"'total: {sum(range(200_000))}'" in done.stdout
    run_id = run_id_of(cli, "total")
    shown = cli("runs", "show", run_id)
    assert len(shown.stdout) < 10_000 and f"legato runs show {run_id} --full" in shown.stdout
    assert cli.json("runs", "show", run_id)["params"]["items"] == list(range(200_000))


def test_double_at_passes_text_that_starts_with_at(cli: Cli) -> None:
    cli.write_flow("big.py", BIG)

    done = cli("run", "big.py:total", "-p", "items=[1]", "-p", "label=@@home ", "--json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == "@home 1"


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (None, "cannot read items.json"),
        ("[1, 2,", "file items.json does not hold"),
        ('["a"]', "file items.json does not hold"),
    ],
)
def test_parameter_file_errors_name_the_file_and_write_nothing(
    cli: Cli, content: str | None, complaint: str
) -> None:
    cli.write_flow("big.py", BIG)
    if content is not None:
        (cli.root / "items.json").write_text(content)

    done = cli("run", "big.py:total", "-p", "items=@items.json")

    cli.assert_clean_error(done)
    assert "parameter 'items'" in done.stderr and complaint in done.stderr, done.stderr
    assert cli.runs() == []


def test_result_of_a_run_without_one_says_why(cli: Cli) -> None:
    cli.write_flow(
        "bad.py",
        """
        from legato import flow

        @flow
        def bad() -> int:
            raise ValueError("no luck")
        """,
    )
    assert cli("run", "bad.py:bad").returncode == 1
    run_id = run_id_of(cli, "bad")

    done = cli("runs", "result", run_id)

    cli.assert_clean_error(done, code=1)
    assert f"run {run_id} failed" in done.stderr and "no luck" in done.stderr
    assert f"legato runs show {run_id} --traceback" in done.stderr
    assert done.stdout == ""


# -- item 5: classes of file-loaded flows -------------------------------------------------


@pytest.mark.parametrize("file_still_there", [True, False])
def test_classes_of_a_file_loaded_flow_show_as_values(cli: Cli, file_still_there: bool) -> None:
    path = cli.write_flow("shapes.py", SHAPES)
    done = cli(
        "run",
        "shapes.py:moved",
        "-p", 'p={"x": 1, "y": 2}',
        "-p", 'box={"name": "crate", "corner": {"x": 0, "y": 0}}',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = run_id_of(cli, "moved")
    if not file_still_there:  # the classes cannot be imported at all now
        path.unlink()

    shown = cli("runs", "show", run_id)

    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "__legato__" not in text and "legato_user" not in text, text
    assert "Point(x=1, y=2)" in text
    assert "Box(name='crate', corner={'x': 0, 'y': 0}, tags=())" in text
    assert "Color(1)" in text
    assert "Box(name='crate', corner={'x': 2, 'y': 4}, tags=('a', 'b'))" in text

    data = cli.json("runs", "show", run_id)
    assert data["params"] == {
        "p": {"x": 1, "y": 2},
        "box": {"name": "crate", "corner": {"x": 0, "y": 0}, "tags": []},
        "color": 1,
    }
    assert data["result"] == {"name": "crate", "corner": {"x": 2, "y": 4}, "tags": ["a", "b"]}
    assert data["steps"][0]["result"] == {"x": 2, "y": 4}
    assert cli.json("runs", "list")[0]["params"]["p"] == {"x": 1, "y": 2}
    assert json.loads(cli("runs", "result", run_id).stdout) == data["result"]


# -- item 12: history ----------------------------------------------------------------------

MAP = """
    from pathlib import Path

    from legato import Permanent, flow, task, wait_for_event

    @task(retries=1, retry_delay=0)
    def work(x: int) -> int:
        if x in (7, 300):
            raise Permanent(f"item {x} is bad")
        marker = Path(__file__).with_name("retried")
        if x == 450 and not marker.exists():
            marker.touch()
            raise RuntimeError("flaky once")
        return x

    @flow
    def mapped() -> int:
        good = 0
        for future in work.map(range(500)):
            try:
                future.result()
                good += 1
            except Permanent:
                pass
        wait_for_event("go")
        return good
"""


def test_history_of_a_long_run_keeps_failures_retries_waits_and_operator_actions(
    cli: Cli,
) -> None:
    cli.write_flow("mapped.py", MAP)
    assert cli("run", "mapped.py:mapped").returncode == 3  # waiting for "go"
    run_id = run_id_of(cli, "mapped")
    cancelled = cli("runs", "cancel", run_id, "--reason", "enough")
    assert cancelled.returncode == 0, cancelled.stderr

    done = cli("runs", "show", run_id)

    assert done.returncode == 0, done.stderr
    history = done.stdout[done.stdout.index("History") : done.stdout.index("\nSteps")]
    lines = history.splitlines()
    assert len(lines) < 40, history
    failed = [line for line in lines if re.search(r"work#(7|300)\s+failed", line)]
    assert len(failed) == 2, history
    assert re.search(r"work#450\s+retrying\s+1\s+.*flaky once", history), history
    assert re.search(r"wait_for_event#0\s+waiting\s+1\s+for event 'go'", history), history
    assert re.search(r"run\s+cancelled\s+enough \(by .+\)", history), history
    assert re.search(r"…\s+\d+ steps completed", history), history
    assert "earlier events" not in history

    everything = cli("runs", "show", run_id, "--all")
    assert len(everything.stdout.splitlines()) > 1_000

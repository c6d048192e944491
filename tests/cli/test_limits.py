"""`legato limits`: each command says what it did, and a missing limit is an error."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conftest import Cli


def test_limits_set_says_what_it_set_and_what_it_replaced(cli: Cli) -> None:
    first = cli("limits", "set", "flow:etl", "2")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "Limit set: at most 2 run(s) of flow:etl at once."

    again = cli("limits", "set", "flow:etl", "3")
    assert again.stdout.strip() == "Limit set: at most 3 run(s) of flow:etl at once (was 2)."
    assert cli.json("limits", "list") == {"flow:etl": 3}


def test_removing_a_limit_that_does_not_exist_is_an_error(cli: Cli) -> None:
    cli("limits", "set", "tag:gpu", "1")

    missing = cli("limits", "remove", "flow:nothere")
    cli.assert_clean_error(missing)
    assert "no limit 'flow:nothere'" in missing.stderr and "tag:gpu" in missing.stderr

    removed = cli("limits", "remove", "tag:gpu")
    assert removed.returncode == 0, removed.stderr
    assert "Limit removed: tag:gpu (was 1)" in removed.stdout
    assert cli.json("limits", "list") == {}

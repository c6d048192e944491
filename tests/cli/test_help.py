"""`--help` screens: sentences wrap at the terminal's width, and --db shows the default
store as it resolves here."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .conftest import Cli


def _prose(text: str) -> list[str]:
    """The help's description lines (outside the option boxes), stripped."""
    boxes = ("│", "╭", "╰")
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith(boxes)
    ]


def test_help_paragraphs_wrap_at_the_terminal_not_where_the_source_broke(cli: Cli) -> None:
    done = cli("worker", "--help", env={"COLUMNS": "80"})

    assert done.returncode == 0, done.stderr
    prose = _prose(done.stdout)
    # Before, the docstring's own line breaks stayed and rich wrapped each of them again,
    # leaving one-word lines such as "their next".
    assert all(len(line.split()) > 2 for line in prose if not line.startswith("Usage")), prose
    assert (
        "On SIGTERM it stops claiming, gives running runs --grace seconds to reach their next "
        "step, and hands the rest back to the queue for another worker."
    ) in " ".join(prose)


def test_db_help_shows_the_default_store_from_legato_home(cli: Cli) -> None:
    home = cli.root / "elsewhere"
    done = cli(
        "runs", "list", "--help", env={"LEGATO_DB": "", "LEGATO_HOME": str(home), "COLUMNS": "400"}
    )

    assert done.returncode == 0, done.stderr
    compact = re.sub(r"[\s│]", "", done.stdout)
    assert f"Default:sqlite:///{home}/legato.db" in compact, done.stdout
    assert "~/.legato/legato.db" not in compact


def test_db_help_never_shows_the_password_of_legato_db(cli: Cli) -> None:
    url = "postgresql://app:Top-Secret@db.example.com/prod"
    done = cli("runs", "list", "--help", env={"LEGATO_DB": url, "COLUMNS": "400"})

    assert done.returncode == 0, done.stderr
    assert "Top-Secret" not in done.stdout
    assert "Default:postgresql://app:***@db.example.com/prod" in re.sub(r"[\s│]", "", done.stdout)

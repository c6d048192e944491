"""Where the CLI writes, how it reports a user's mistake, and its exit codes.

Results go to stdout; errors (one red line each) and, with ``--json``, everything else go
to stderr. Text that comes from users or flows is always passed as ``rich.text.Text``
so that brackets in it are never read as rich markup.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from functools import cache
from typing import IO, NoReturn, TextIO, cast

import typer
from rich.console import Console
from rich.text import Text

from legato.errors import LegatoError

EXIT_COMPLETED = 0
EXIT_FAILED = 1  # the run failed
EXIT_USAGE = 2  # the user asked for something impossible; nothing was started
EXIT_WAITING = 3  # the run is suspended on a durable wait, or paused by an operator
EXIT_CANCELLED = 4  # the run was cancelled (by an operator, or its parent's cancel)
EXIT_INTERRUPTED = 130  # Ctrl-C: the run was recorded as paused; `runs resume` continues it


PIPE_WIDTH = 200  # tables written to a file or pipe are not cut to 80 columns


@cache
def out() -> Console:
    return _console(stderr=False)


@cache
def err() -> Console:
    return _console(stderr=True)


def _console(*, stderr: bool) -> Console:
    console = Console(
        # rich needs only write, flush, isatty, fileno and encoding of its file.
        file=cast(IO[str], _TrimmedStream(stderr=stderr)),
        stderr=stderr,
        highlight=False,
        soft_wrap=True,
    )
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


# Spaces before a line end, possibly followed by style codes that end the line's styles.
_TRAILING_SPACES = re.compile(r" +(?=(?:\x1b\[[0-9;]*m)*\n)")


class _TrimmedStream:
    """The current ``sys.stdout`` (or ``sys.stderr``) with the spaces that rich pads table
    rows and grids with removed at line ends, so that output piped to a file or a diff
    has no trailing spaces. Looked up at each write, as rich does, so that redirections
    (tests, ``--json``) apply."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr

    @property
    def _target(self) -> TextIO:
        stream = sys.stderr if self._stderr else sys.stdout
        # Under a live display sys.stdout is rich's proxy, which prints through the
        # console again: write to the stream behind it.
        return getattr(stream, "rich_proxied_file", stream)

    def write(self, text: str) -> int:
        return self._target.write(_TRAILING_SPACES.sub("", text))

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._target, "encoding", None) or "utf-8"


def error_line(message: str) -> None:
    """Print ``error: message`` in red on stderr."""
    err().print(Text(f"error: {message}", style="bold red"))


def fail(message: str, code: int = EXIT_USAGE, *, details: Text | str | None = None) -> NoReturn:
    """Report a user's mistake (one red line, optional plain details) and exit."""
    error_line(message)
    if details:
        err().print(details if isinstance(details, Text) else Text(details))
    raise typer.Exit(code)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn legato's own errors (unknown run, bad target, unusable store) into one red
    line and exit code 2, instead of a traceback."""
    try:
        yield
    except LegatoError as exc:
        fail(str(exc))


def write_json(payload: object) -> None:
    """One JSON document on stdout, unwrapped, and nothing else."""
    import json

    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()

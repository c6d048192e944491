"""What every trigger source shares: the ``emit`` callback it fires through, the status
it reports, and the backoff between reconnects.

A source turns a cause (a file that arrived, a broker message) into a
:class:`~legato.records.FireRecord` and hands it to ``emit``, which the scheduler gives
it: ``emit`` records the fire and the run it starts in one transaction and returns the
run id; a key already recorded returns the existing run id and creates nothing. A source
acknowledges its cause only after ``emit`` returned, so a crash between the two at worst
delivers the cause again, and its key makes the second delivery a no-op.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from legato.records import FireRecord

Emit = Callable[[FireRecord], str]
"""Records a fire and its run in one transaction; returns the run id (the existing one
when the fire's key was recorded before)."""

State = Literal["starting", "connected", "retrying", "stopped"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceStatus:
    """What a source is doing, for ``legato deployments show``. ``last_error`` never
    holds a password."""

    state: State
    since: datetime  # when the source entered this state
    last_error: str | None = None  # the latest failure, kept after a reconnect
    failures: int = 0  # failed attempts in a row (0 once connected)
    detail: str = ""  # e.g. "watchdog" or "polling" for a watched folder

    def describe(self) -> str:
        """One line: ``retrying since 12:00:01 (3 failures): connection refused``."""
        text = f"{self.state} since {self.since:%Y-%m-%d %H:%M:%S}Z"
        if self.detail:
            text += f" ({self.detail})"
        if self.state == "retrying":
            text += f", {self.failures} failure{'s' if self.failures != 1 else ''} in a row"
        if self.last_error:
            text += (
                f": {self.last_error}"
                if self.state == "retrying"
                else f"; last error: {self.last_error}"
            )
        return text


@dataclass(frozen=True, kw_only=True, slots=True)
class Backoff:
    """Delays between reconnect attempts: ``initial * factor**(n-1)`` capped at
    ``maximum``, each scaled by a random factor in ``[1 - jitter, 1]`` so that sources
    that lost one broker together do not reconnect in lockstep."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum) or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError(
                f"Backoff(initial={self.initial}, maximum={self.maximum}, factor={self.factor}, "
                f"jitter={self.jitter}): need 0 < initial <= maximum, factor >= 1, 0 <= jitter < 1"
            )

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed attempts in a row (1 or more)."""
        base = min(self.maximum, self.initial * self.factor ** max(0, failures - 1))
        return base * (1 - self.jitter * random.random())

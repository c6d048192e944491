"""Control signals raised through a flow body to stop it without failing it.

Each is a ``BaseException`` so that a flow's ``except Exception`` does not swallow it;
the runner catches it at the top and records what it means (waiting, paused, handed
back to the queue).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from legato.records import WaitSpec


class Suspended(BaseException):  # noqa: N818 - a control signal, like KeyboardInterrupt
    """The flow must wait for ``spec``: the run is recorded ``waiting`` until ``wake_at``
    (None: until what it waits for arrives)."""

    def __init__(
        self,
        run_id: str,
        wake_at: datetime | None,
        spec: WaitSpec,
        arrived: Callable[[], bool] | None = None,
    ) -> None:
        self.run_id = run_id
        self.wake_at = wake_at
        self.spec = spec
        # Whether what the wait needs (with its own match and key) came meanwhile.
        self.arrived = arrived
        until = f" (until {wake_at.isoformat()})" if wake_at else ""
        super().__init__(f"run {run_id} waits for {spec.describe()}{until}")

    @property
    def waiting_for(self) -> str | None:
        """The run's stored ``waiting_for`` while it waits."""
        return self.spec.waiting_for


class RunReleased(BaseException):  # noqa: N818 - a control signal, like KeyboardInterrupt
    """The worker executing the run is stopping: the run goes back to the queue."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id}: its worker is stopping; another worker resumes it")


class RunPaused(BaseException):  # noqa: N818 - a control signal, like KeyboardInterrupt
    """An operator paused the run: it stops at the next step boundary."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id} was paused")

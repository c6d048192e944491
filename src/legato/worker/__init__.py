"""``legato worker``: claims runs from the store's queue and executes them by replay."""

from legato.worker.service import Worker, WorkerOptions

__all__ = ["Worker", "WorkerOptions"]

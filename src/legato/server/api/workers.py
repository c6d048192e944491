"""``/api/v1/workers``: the workers that reported to the store, newest heartbeat first."""

from __future__ import annotations

from fastapi import APIRouter

from legato.server.api.deps import ERRORS, Reader, Store
from legato.server.schemas import WorkersOut, worker_out

router = APIRouter(prefix="/workers", tags=["workers"], responses=ERRORS)


@router.get("", response_model=WorkersOut)
def list_workers(store: Store, _: Reader) -> WorkersOut:
    """Every worker row: host, pid, queues, concurrency, heartbeat, runs it executes."""
    return WorkersOut(workers=[worker_out(worker) for worker in store.list_workers()])

"""``/api/v1/events``: send an event to the flows waiting for it (``wait_for_event``)."""

from __future__ import annotations

from fastapi import APIRouter

from legato.server import actions
from legato.server.api.deps import ERRORS, RUN_CONFLICT, Operator, Store
from legato.server.schemas import EventSent, SendEvent

router = APIRouter(prefix="/events", tags=["events"], responses=ERRORS)


@router.post("", status_code=201, response_model=EventSent, responses=RUN_CONFLICT)
def send_event(body: SendEvent, store: Store, caller: Operator) -> EventSent:
    """Store the event; runs waiting for its name (or only ``run_id``) are resumed by a
    worker, and a run that reaches its wait later still gets it."""
    event_id = actions.send_event(
        store, body.name, body.data, key=body.key, run_id=body.run_id, actor=caller.name
    )
    return EventSent(event_id=event_id, name=body.name)

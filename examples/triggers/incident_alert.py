"""The seed's IT incident response, started by ``MonitoringAlert.received(severity=
"CRITICAL")``: an event named ``monitoring.alert`` whose payload passes a filter.

    legato deploy examples/triggers/incident_alert.py:incident_alert --name incidents \\
        --on-event monitoring.alert --filter 'severity == "CRITICAL"'
    legato up
    legato events send monitoring.alert \\
        --data '{"severity": "CRITICAL", "service": "db-1", "type": "Restartable"}'
    legato events send monitoring.alert --data '{"severity": "WARNING", "service": "web"}'
    legato runs list --deployment incidents       # one run: the CRITICAL alert

The filter is evaluated safely (no ``eval``) on the event's payload; events that do
not match start nothing. From Python: ``legato.send_event("monitoring.alert", {...})``.
"""

from __future__ import annotations

from legato import flow, get_run_context, task


@task
def create_ticket(alert: dict) -> str:
    return f"INC-{alert.get('service', 'unknown')}"


@task
def triage(alert: dict) -> str:
    service = str(alert.get("service", ""))
    return "Database" if service.startswith("db") else "Application"


@task
def page(team: str) -> str:
    return f"paged {team}"


@task
def restart_service(service: str) -> str:
    return f"restarted {service}"


@flow
def incident_alert() -> dict:
    """Respond to the alert the event carried."""
    trigger = get_run_context().trigger
    if trigger is None:
        raise ValueError("incident_alert runs from a monitoring.alert event")
    alert = trigger.payload
    ticket = create_ticket(alert)
    category = triage(alert)
    paged = page("DBA_OnCall" if category == "Database" else "SRE_OnCall")
    actions = [paged]
    if alert.get("type") == "Restartable":
        actions.append(restart_service(alert["service"]))
    return {"ticket": ticket, "category": category, "actions": actions}

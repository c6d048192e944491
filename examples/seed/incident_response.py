"""The seed's business use case, IT_Incident_Response.

    WORKFLOW IT_Incident_Response
      TRIGGER: MonitoringAlert.received(severity="CRITICAL")
      TASK CreateTicket: CALL TicketingSystem.create(Alert.details)
      TASK Triage: CALL AI_Classifier.categorize(Alert.payload)
        IF Category == "Database" THEN CALL PagerSystem.notify("DBA_OnCall")
        ELSE CALL PagerSystem.notify("SRE_OnCall")
        END IF
      TASK AutoRemediate:
        IF Alert.type == "Restartable" THEN CALL InfraAPI.restartService(Alert.serviceName)
        END IF

The alert's fields are the flow's parameters (the trigger, a monitoring webhook, would
start the run with them). The classification is a recorded step, so a resumed run pages
the same team and never pages twice; the ``if`` statements are plain Python, and a branch
not taken leaves no step behind. The systems called are local stand-ins.

    legato run examples/seed/incident_response.py:it_incident_response \\
        -p service_name=checkout -p payload="HTTP 502 from upstream" -p alert_type=Transient
"""

from __future__ import annotations

import hashlib

from legato import flow, get_run_context, task

DATABASE_WORDS = ("database", "postgres", "mysql", "sql", "replication", "deadlock", "db ")


class TicketingSystem:
    @staticmethod
    def create(details: str, severity: str, idempotency_key: str) -> str:
        # Keyed on the step, so a retried create does not open a second ticket.
        return f"INC-{hashlib.sha256(idempotency_key.encode()).hexdigest()[:8].upper()}"


class AI_Classifier:  # the seed's name
    """Stands in for a model that reads the alert payload and names the failing layer."""

    @staticmethod
    def categorize(payload: str) -> str:
        text = f"{payload.lower()} "
        if any(word in text for word in DATABASE_WORDS):
            return "Database"
        if any(word in text for word in ("dns", "packet", "latency", "timeout")):
            return "Network"
        return "Application"


class PagerSystem:
    @staticmethod
    def notify(team: str, ticket_id: str) -> dict:
        return {"paged": team, "ticket": ticket_id}


class InfraAPI:
    @staticmethod
    def restart_service(service_name: str) -> dict:
        return {"service": service_name, "restarted": True}


@task(name="CreateTicket", retries=2, retry_delay=0.5)
def create_ticket(details: str, severity: str) -> str:
    return TicketingSystem.create(details, severity, get_run_context().idempotency_key)


@task(name="Triage", retries=2, retry_delay=0.5)
def triage(payload: str) -> str:
    return AI_Classifier.categorize(payload)


@task(name="PageOnCall", retries=3, retry_delay=[1, 5])
def page_on_call(team: str, ticket_id: str) -> dict:
    return PagerSystem.notify(team, ticket_id)


@task(name="AutoRemediate", retries=1, retry_delay=1)
def auto_remediate(service_name: str) -> dict:
    return InfraAPI.restart_service(service_name)


@flow(name="IT_Incident_Response")
def it_incident_response(
    service_name: str = "orders-db",
    details: str = "orders-db primary unreachable",
    payload: str = "replication lag 900s on postgres primary; connections refused",
    alert_type: str = "Restartable",
    severity: str = "CRITICAL",
) -> dict:
    ticket_id = create_ticket(details, severity)
    category = triage(payload)
    if category == "Database":
        page = page_on_call("DBA_OnCall", ticket_id)
    else:
        page = page_on_call("SRE_OnCall", ticket_id)
    remediation = None
    if alert_type == "Restartable":
        remediation = auto_remediate(service_name)
    return {
        "ticket": ticket_id,
        "category": category,
        "paged": page["paged"],
        "remediated": remediation is not None and remediation["restarted"],
    }


if __name__ == "__main__":
    print(it_incident_response())

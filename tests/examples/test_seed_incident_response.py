"""IT_Incident_Response: ticket, triage, page the right team, restart if restartable."""

from __future__ import annotations

from legato import RunState, StepState


def test_a_database_alert_pages_the_dba_and_restarts_the_service(load_example, by_key):
    example = load_example("incident_response")

    handle = example.it_incident_response.run(
        service_name="orders-db",
        details="orders-db primary unreachable",
        payload="replication lag 900s on postgres primary",
        alert_type="Restartable",
    )

    assert handle.state is RunState.COMPLETED
    result = handle.result()
    assert result["ticket"].startswith("INC-")
    assert result["category"] == "Database"
    assert result["paged"] == "DBA_OnCall"
    assert result["remediated"] is True
    steps = by_key(handle.steps)
    assert list(steps) == ["CreateTicket#0", "Triage#0", "PageOnCall#0", "AutoRemediate#0"]
    assert all(s.state is StepState.COMPLETED for s in steps.values())


def test_any_other_alert_pages_sre_and_a_non_restartable_one_is_not_restarted(load_example, by_key):
    example = load_example("incident_response")

    handle = example.it_incident_response.run(
        service_name="checkout",
        details="checkout returns errors",
        payload="HTTP 502 from upstream payment gateway",
        alert_type="Transient",
    )

    assert handle.state is RunState.COMPLETED
    result = handle.result()
    assert result["category"] == "Application"
    assert result["paged"] == "SRE_OnCall"
    assert result["remediated"] is False
    assert list(by_key(handle.steps)) == ["CreateTicket#0", "Triage#0", "PageOnCall#0"]


def test_each_incident_gets_its_own_ticket(load_example):
    example = load_example("incident_response")

    first = example.it_incident_response()
    second = example.it_incident_response()

    assert first["ticket"] != second["ticket"]

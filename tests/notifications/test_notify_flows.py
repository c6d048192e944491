"""notify() inside a flow is a durable step: retried on failure, never sent twice, and its
recorded errors never hold a channel's secrets."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import legato
from legato import flow, notifier, notify, task
from legato.errors import DefinitionError, NotificationError
from legato.records import RunFilter
from legato.states import RunState, StepState


@pytest.fixture
def store(tmp_path: Path):
    legato.use_store(f"sqlite:///{tmp_path}/n.db")
    from legato.engine.context import default_store

    yield default_store()


def recorded_text(store, run_id: str) -> str:
    """Everything the store holds about a run, as one string."""
    parts = [repr(store.get_run(run_id))]
    parts += [repr(step) for step in store.get_steps(run_id)]
    parts += [repr(event) for event in store.get_events(run_id)]
    parts += [repr(log) for log in store.get_logs(run_id)]
    return "\n".join(parts)


def test_a_failing_webhook_is_retried_and_the_message_arrives_once(store, http_receiver):
    http_receiver.statuses = [500]

    @flow
    def deploy(version: str) -> str:
        notify(http_receiver.url(), f"deployed {version}", data={"version": version})
        return "done"

    assert deploy("v7") == "done"

    [run] = store.list_runs(_filter())
    [step] = store.get_steps(run.run_id)
    assert (step.key, step.state, step.attempts) == ("notify#0", StepState.COMPLETED, 2)
    assert len(http_receiver.seen) == 2
    [request] = http_receiver.received
    assert request.body["message"] == "deployed v7"
    assert request.body["data"] == {"version": "v7"}
    assert request.body["run_id"] == run.run_id and request.body["step_key"] == "notify#0"
    assert request.headers["Idempotency-Key"] == f"{run.run_id}:notify#0"


def test_replay_after_a_later_failure_does_not_send_again(store, http_receiver):
    calls = []

    @task
    def load() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database restarting")

    @flow(retries=1)
    def etl() -> None:
        notify(http_receiver.url(), "etl started")
        load()

    etl()
    assert len(calls) == 2  # the run was retried by replay
    assert len(http_receiver.seen) == 1  # and notify#0 came from its record


def test_a_channel_named_in_settings_is_used_by_name(store, http_receiver, monkeypatch):
    monkeypatch.setenv("LEGATO_NOTIFY_OPS", http_receiver.url("/ops"))

    @flow
    def nightly() -> None:
        notify("ops", "nightly load finished", subject="nightly")

    nightly()
    [request] = http_receiver.received
    assert request.path == "/ops"
    assert request.body["subject"] == "nightly"


@pytest.mark.parametrize("client", ["httpx", "urllib"])
def test_secrets_never_reach_the_store(store, http_receiver, monkeypatch, tmp_path, client):
    if client == "urllib":
        monkeypatch.setitem(sys.modules, "httpx", None)  # as if httpx were not installed
    secret = "Tok3n-never-logged-0123456789"
    password = "Pa55w0rd-never-logged"
    monkeypatch.setenv("HOOK_TOKEN", secret)
    http_receiver.statuses = [500] * 10
    failing = notify.with_options(retry_delay=0)

    @flow
    def alerting() -> None:
        # The URL carries a token (from the environment) and a password (written inline);
        # both must stay out of errors, events and logs.
        failing(http_receiver.url("/h/${HOOK_TOKEN}").replace("//", f"//ops:{password}@", 1), "x")

    with pytest.raises(NotificationError) as caught:
        alerting()
    assert secret not in str(caught.value) and password not in str(caught.value)
    assert "HTTP 500" in str(caught.value)

    [run] = store.list_runs(_filter())
    assert run.state == RunState.FAILED
    [step] = store.get_steps(run.run_id)
    assert (step.state, step.attempts) == (StepState.FAILED, 4)
    text = recorded_text(store, run.run_id)
    assert "HTTP 500" in text
    assert secret not in text and password not in text
    assert len(http_receiver.seen) == 4

    store.close()
    for path in tmp_path.glob("n.db*"):
        raw = path.read_bytes()
        assert secret.encode() not in raw and password.encode() not in raw


@pytest.mark.parametrize(
    "channel, expected",
    [
        ("nosuch://user:Hunter2secret@host/path", "not a URL legato or apprise knows"),
        ("https://hooks.example.org/${NOT_SET_ANYWHERE}", "NOT_SET_ANYWHERE is not set"),
        ("nochannel", "no notification channel named 'nochannel'"),
    ],
    ids=["unknown-scheme", "missing-env", "unknown-name"],
)
def test_a_setup_error_fails_the_step_at_once_without_retries(store, channel, expected):
    @flow
    def alerting() -> None:
        notify(channel, "x")

    with pytest.raises(DefinitionError, match=expected) as caught:
        alerting()
    assert "Hunter2secret" not in str(caught.value)
    assert "not retried" in str(caught.value)

    [run] = store.list_runs(_filter())
    [step] = store.get_steps(run.run_id)
    assert (step.key, step.state, step.attempts) == ("notify#0", StepState.FAILED, 1)
    assert run.state == RunState.FAILED


def test_a_notifier_sends_the_failure_as_a_step(store, http_receiver):
    handler = notifier(
        http_receiver.url(),
        "run {run_id} failed at {step_key}: {error_type}: {message} ({attempts} attempts)",
        subject="{flow_name} failed",
    )
    failure = SimpleNamespace(
        run_id="01RUN",
        flow_name="etl",
        step_key="load#0",
        error_type="ValueError",
        message="bad row 7",
        traceback="Traceback ...",
        attempts=3,
    )

    @flow
    def handle_failure() -> None:
        handler(failure)

    handle_failure()
    [request] = http_receiver.received
    assert request.body["message"] == (
        "run 01RUN failed at load#0: ValueError: bad row 7 (3 attempts)"
    )
    assert request.body["subject"] == "etl failed"
    assert request.body["data"]["error_type"] == "ValueError"
    assert "traceback" not in request.body["data"]
    [run] = store.list_runs(_filter())
    [step] = store.get_steps(run.run_id)
    assert (step.key, step.attempts) == ("notify#0", 1)


def test_notifier_as_on_failure_of_a_task_and_a_flow(store, http_receiver, monkeypatch):
    monkeypatch.setenv("LEGATO_NOTIFY_OPS", http_receiver.url("/ops"))
    http_receiver.statuses = [500]  # the first notification is retried

    @task(on_failure=notifier("ops", "{step_key} failed: {message}"))
    def charge(amount: int) -> None:
        raise ValueError(f"card declined for {amount}")

    @flow(on_failure=[notifier("ops", "run {run_id} of {flow_name} failed: {error_type}")])
    def checkout() -> None:
        charge(12)

    with pytest.raises(ValueError, match="card declined for 12"):
        checkout()

    [run] = store.list_runs(_filter())
    messages = [r.body["message"] for r in http_receiver.received]
    assert messages == [
        "charge#0 failed: card declined for 12",
        f"run {run.run_id} of checkout failed: builtins.ValueError",
    ]
    steps = {s.key: s for s in store.get_steps(run.run_id)}
    assert steps["charge#0/on_failure#0"].attempts == 2
    assert steps["charge#0/on_failure#0"].state is StepState.COMPLETED
    assert steps["/on_failure#0"].state is StepState.COMPLETED


def test_a_notifier_fills_missing_fields_with_empty_text(http_receiver):
    handler = notifier(http_receiver.url(), "{flow_name} failed: {message}|{step_key}")
    handler(SimpleNamespace(flow_name="etl", message="boom"))
    assert http_receiver.received[0].body["message"] == "etl failed: boom|"


def test_an_email_from_a_flow(store, smtp_server, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", smtp_server.password)
    monkeypatch.setenv(
        "LEGATO_NOTIFY_ONCALL",
        f"smtp://alerts:${{SMTP_PASSWORD}}@127.0.0.1:{smtp_server.port}"
        "?from=alerts@example.org&to=oncall@example.org",
    )

    @flow
    def paging() -> None:
        notify("oncall", "db-1 is down", subject="PAGE")

    paging()
    [(_, recipients, email)] = smtp_server.messages
    assert recipients == ["oncall@example.org"] and email["Subject"] == "PAGE"
    [run] = store.list_runs(_filter())
    assert smtp_server.password not in recorded_text(store, run.run_id)


def _filter() -> RunFilter:
    return RunFilter()

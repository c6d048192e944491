"""legato.deploy refuses bad definitions before storing anything; receive_webhook's
answers (signature, idempotency, errors) as the server will serve them."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from scheduled_flows import report

from legato import Cron, Every, OnEvent, OnFile, OnStream, Webhook, deploy
from legato.errors import ExpressionError, ParameterError, ScheduleError
from legato.scheduler.webhooks import receive_webhook


@pytest.mark.parametrize(
    ("make", "option"),
    [
        (lambda: Cron("0 25 * * *"), "--cron"),
        (lambda: Cron("0 9 * * *", tz="Mars/Olympus"), "--tz"),
        (lambda: Every("ten minutes"), "--every"),
        (lambda: OnFile("/no/such/folder"), "--on-file"),
        (lambda: OnStream("http://host/x"), "--on-stream"),
        (lambda: Webhook("bad path!"), "--webhook"),
    ],
)
def test_a_bad_trigger_is_refused_naming_its_option(make, option):
    with pytest.raises(ScheduleError) as caught:
        make()
    assert caught.value.option == option


def test_a_filter_that_does_not_parse_names_its_column():
    with pytest.raises(ExpressionError) as caught:
        OnEvent("alert", filter="severity == ")
    assert caught.value.where == "--filter" and caught.value.column == 12


def test_bad_options_or_params_store_nothing(store):
    with pytest.raises(ScheduleError, match="--overlap"):
        deploy(report, name="x", triggers=[Every("1m")], overlap="sometimes", store=store)
    with pytest.raises(ParameterError):
        deploy(report, name="x", triggers=[Every("1m")], params={"nope": 1}, store=store)
    assert store.list_deployments() == []


def test_deploying_again_by_name_updates_the_deployment(store):
    deploy(report, name="d", triggers=[Every("1m")], store=store)
    updated = deploy(report, name="d", triggers=[Every("2m")], queue="slow", store=store)
    assert [d.name for d in store.list_deployments()] == ["d"]
    assert updated.queue == "slow" and '"seconds": 120.0' in updated.triggers


def test_a_webhook_path_belongs_to_one_deployment(store):
    deploy(report, name="a", triggers=[Webhook("tickets")], store=store)
    with pytest.raises(ScheduleError, match="taken by deployment 'a'"):
        deploy(report, name="b", triggers=[Webhook("/hooks/tickets")], store=store)
    assert store.get_deployment("b") is None


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_signed_webhook_starts_one_run_per_idempotency_key(store):
    deploy(
        report, name="tickets", triggers=[Webhook("tickets", secret_env="HOOK_SECRET")], store=store
    )
    env = {"HOOK_SECRET": "s3cret"}
    body = json.dumps({"ticket": 7, "priority": "high"}).encode()
    headers = {"X-Legato-Signature": sign("s3cret", body), "Idempotency-Key": "delivery-1"}
    first = receive_webhook(store, "tickets", body, headers, environ=env)
    again = receive_webhook(store, "/hooks/tickets", body, headers, environ=env)
    assert first.status == 202 and again.status == 200
    assert first.body == again.body == {"run_id": first.body["run_id"]}
    fire = store.get_fire(first.body["run_id"])
    assert fire.kind == "webhook" and json.loads(fire.payload) == {"ticket": 7, "priority": "high"}


def test_unsigned_or_wrongly_signed_deliveries_get_401_and_create_nothing(store):
    deploy(
        report, name="tickets", triggers=[Webhook("tickets", secret_env="HOOK_SECRET")], store=store
    )
    env = {"HOOK_SECRET": "s3cret"}
    body = b'{"ticket": 7}'
    unsigned = receive_webhook(store, "tickets", body, {}, environ=env)
    wrong = receive_webhook(
        store, "tickets", body, {"X-Legato-Signature": sign("other", body)}, environ=env
    )
    assert unsigned.status == wrong.status == 401
    assert "s3cret" not in json.dumps([unsigned.body, wrong.body])
    assert store.list_fires("tickets") == []


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("nowhere", b"{}", 404),
        ("open", b"not json", 400),
        ("open", b"[" + b"1," * 600 + b"1]", 413),
    ],
)
def test_webhook_errors_are_json_and_create_no_run(store, path, body, status):
    deploy(report, name="open", triggers=[Webhook("open")], store=store)
    result = receive_webhook(store, path, body, {}, max_bytes=1000)
    assert result.status == status and "error" in result.body
    assert store.list_fires("open") == []

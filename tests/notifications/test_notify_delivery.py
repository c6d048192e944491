"""notify() outside a flow: it simply sends, to a real local SMTP server and HTTP receiver."""

from __future__ import annotations

import base64
import socket
import sys

import pytest

from legato import notify
from legato.errors import NotificationError
from legato.notifications.delivery import Message, _post_urllib


def test_email_reaches_a_real_smtp_server_with_login(smtp_server):
    url = (
        f"smtp://{smtp_server.user}:{smtp_server.password}@127.0.0.1:{smtp_server.port}"
        "?from=alerts@example.org&to=oncall@example.org,boss@example.org"
    )
    notify(url, "Disk full on db-1.\nPlease look.", subject="db-1 alert")

    assert smtp_server.logins == ["alerts"]
    [(sender, recipients, email)] = smtp_server.messages
    assert sender == "alerts@example.org"
    assert recipients == ["oncall@example.org", "boss@example.org"]
    assert email["Subject"] == "db-1 alert"
    assert email["To"] == "oncall@example.org, boss@example.org"
    body = email.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert body.strip() == "Disk full on db-1.\nPlease look."


def test_email_without_subject_uses_the_first_line(smtp_server, monkeypatch):
    monkeypatch.setenv("MAIL_PW", smtp_server.password)
    url = (
        f"smtp://alerts:${{MAIL_PW}}@127.0.0.1:{smtp_server.port}"
        "?from=alerts@example.org&to=oncall@example.org"
    )
    notify(url, "Nightly load finished\nall 12 tables")
    [(_, _, email)] = smtp_server.messages
    assert email["Subject"] == "Nightly load finished"


def test_a_refused_login_is_an_error_without_the_password(smtp_server):
    url = (
        f"smtp://alerts:WrongPassw0rd-zz@127.0.0.1:{smtp_server.port}"
        "?from=alerts@example.org&to=oncall@example.org"
    )
    with pytest.raises(NotificationError) as caught:
        notify(url, "hello")
    assert "SMTPAuthenticationError" in str(caught.value)
    assert "WrongPassw0rd-zz" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert smtp_server.messages == []


def test_webhook_posts_json(http_receiver):
    notify(http_receiver.url(), "deployed", subject="v2", data={"version": 2})
    [request] = http_receiver.received
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {
        "message": "deployed",
        "subject": "v2",
        "data": {"version": 2},
        "run_id": None,
        "step_key": None,
    }


def test_webhook_non_2xx_raises_naming_the_status_without_the_token(http_receiver):
    http_receiver.statuses = [503]
    url = http_receiver.url("/hook?token=very-secret-token")
    with pytest.raises(NotificationError, match="HTTP 503") as caught:
        notify(url, "x")
    assert "very-secret-token" not in str(caught.value)


def test_unreachable_webhook_raises_a_scrubbed_error(http_receiver):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    url = f"http://hook:Pa55-unreachable@127.0.0.1:{closed_port}/x"
    with pytest.raises(NotificationError, match="failed") as caught:
        notify(url, "x")
    assert "Pa55-unreachable" not in str(caught.value)


def test_the_urllib_fallback_posts_and_reports_the_status(http_receiver):
    http_receiver.statuses = [500]
    status, _ = _post_urllib(http_receiver.url(), b"{}", {"Content-Type": "x"}, 5)
    assert status == 500
    assert _post_urllib(http_receiver.url(), b"{}", {}, 5)[0] == 200
    assert len(http_receiver.seen) == 2


def test_apprise_json_scheme_reaches_the_local_receiver(http_receiver):
    notify(f"json://127.0.0.1:{http_receiver.port}/apprise", "from apprise", subject="hi")
    [request] = http_receiver.received
    assert request.path == "/apprise"
    assert request.body["message"] == "from apprise"
    assert request.body["title"] == "hi"


def test_apprise_failure_raises(http_receiver):
    http_receiver.statuses = [500]
    with pytest.raises(NotificationError, match="apprise could not deliver"):
        notify(f"json://127.0.0.1:{http_receiver.port}/apprise", "x")


def test_message_defaults():
    assert Message(text="x").data == {}


@pytest.mark.parametrize("client", ["httpx", "urllib"])
def test_webhook_user_and_password_are_sent_as_basic_auth(http_receiver, monkeypatch, client):
    if client == "urllib":
        monkeypatch.setitem(sys.modules, "httpx", None)  # as if httpx were not installed
    else:
        pytest.importorskip("httpx")
    notify(http_receiver.url().replace("//", "//bot:s3cret@", 1), "hello")
    [request] = http_receiver.received
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"bot:s3cret").decode()

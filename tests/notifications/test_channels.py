"""Channel URLs: parsed and checked up front, secrets resolved from the environment and
never shown."""

from __future__ import annotations

import subprocess
import sys

import pytest

from legato.errors import DefinitionError
from legato.notifications import configured_channels, notifier, parse_channel, resolve_channel
from legato.settings import load_settings


def test_webhook_smtp_and_apprise_urls_are_recognised():
    assert parse_channel("https://hooks.example.com/x").kind == "webhook"
    smtp = parse_channel("smtp://u:pw@mail.example.com:587?from=a@x.org&to=b@y.org,c@z.org")
    assert smtp.kind == "smtp"
    assert parse_channel("json://127.0.0.1:9/path").kind == "apprise"
    assert parse_channel("mailto://user:pw@example.com?to=a@b.org").kind == "apprise"


def test_an_unknown_scheme_is_rejected_with_the_accepted_forms_and_no_secret():
    with pytest.raises(DefinitionError) as caught:
        parse_channel("nosuch://user:Hunter2secret@host/path")
    text = str(caught.value)
    assert "nosuch://***" in text
    assert "https://host/path" in text and "smtp://" in text and "slack://" in text
    assert "Hunter2secret" not in text


@pytest.mark.parametrize(
    "url, expected",
    [
        ("not a url", "is not a URL"),
        ("https:///nohost", "names no host"),
        ("http://host:notaport/x", "malformed"),
        ("smtp://mail.example.com?to=b@y.org", "needs a sender"),
        ("smtp://mail.example.com?from=a@x.org", "needs a sender and recipients"),
        ("smtp://mail.example.com:25?from=a@x.org&to=b@y.org&tls=1", "unknown option"),
        ("slack://", "not a URL legato or apprise knows"),
    ],
)
def test_malformed_urls_are_rejected_at_parse_time(url, expected):
    with pytest.raises(DefinitionError, match=expected):
        parse_channel(url)


def test_env_placeholders_are_resolved_and_hidden():
    env = {"HOOK_TOKEN": "tok-0123456789abcdef", "SMTP_PW": "pw-very-secret"}
    hook = parse_channel("https://hooks.example.com/services/${HOOK_TOKEN}", env=env)
    assert hook.url == "https://hooks.example.com/services/tok-0123456789abcdef"
    assert hook.redacted() == "https://hooks.example.com/services/***"
    assert "tok-0123456789abcdef" not in repr(hook)
    mail = parse_channel(
        "smtp://alerts:${SMTP_PW}@mail.example.com:587?from=a@x.org&to=b@y.org", env=env
    )
    assert mail.redacted() == "smtp://alerts:***@mail.example.com:587?from=a@x.org&to=b@y.org"


def test_a_missing_env_variable_is_named_and_nothing_else_is_shown():
    with pytest.raises(DefinitionError) as caught:
        parse_channel("https://hooks.example.com/${NOT_SET_ANYWHERE}", env={})
    assert "NOT_SET_ANYWHERE is not set" in str(caught.value)


def test_tokens_in_webhook_urls_are_redacted():
    channel = parse_channel(
        "https://user:pa55@hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXX1234abcd?token=zz9"
    )
    shown = channel.redacted()
    assert shown == "https://user:***@hooks.slack.com/services/T0000/B0000/***?token=***"


def test_apprise_channels_show_apprise_privacy_url():
    channel = parse_channel("mailto://user:Secr3tPassw0rd@example.com?to=a@b.org")
    assert "Secr3tPassw0rd" not in channel.redacted()
    assert channel.redacted().startswith("mailto://user:")


def test_channels_named_in_settings_are_read_by_settings_and_lower_cased():
    settings = load_settings(
        {"LEGATO_NOTIFY_OPS": "https://ops.example.com/hook", "LEGATO_NOTIFY_Team_Mail": " x "}
    )
    assert settings.notify_channels == {"ops": "https://ops.example.com/hook", "team_mail": "x"}


def test_an_empty_configured_channel_is_rejected_by_settings():
    with pytest.raises(ValueError, match="LEGATO_NOTIFY_OPS is set but empty"):
        load_settings({"LEGATO_NOTIFY_OPS": " "})


def test_a_bad_configured_channel_fails_when_channels_load_naming_it(monkeypatch):
    monkeypatch.setenv("LEGATO_NOTIFY_PAGER", "pager://key-that-is-secret@x")
    with pytest.raises(DefinitionError) as caught:
        configured_channels()
    assert "channel 'pager'" in str(caught.value)
    assert "key-that-is-secret" not in str(caught.value)


def test_a_channel_name_resolves_through_settings(monkeypatch):
    monkeypatch.setenv("LEGATO_NOTIFY_OPS", "https://ops.example.com/hook")
    assert resolve_channel("ops").name == "ops"
    assert resolve_channel("OPS").url == "https://ops.example.com/hook"
    with pytest.raises(DefinitionError, match="LEGATO_NOTIFY_PAGES=<url>"):
        resolve_channel("pages")


def test_notifier_checks_its_channel_and_template_when_the_flow_is_defined(monkeypatch):
    with pytest.raises(DefinitionError, match="no notification channel named 'oops'"):
        notifier("oops", "run {run_id} failed")
    with pytest.raises(DefinitionError, match="MISSING_TOKEN"):
        notifier("https://hooks.example.com/${MISSING_TOKEN}", "run {run_id} failed")
    with pytest.raises(DefinitionError, match=r"unknown field\(s\) \['run'\]"):
        notifier("https://hooks.example.com/x", "run {run} failed")
    monkeypatch.setenv("LEGATO_NOTIFY_BROKEN", "https://")
    with pytest.raises(DefinitionError, match="channel 'broken'"):
        notifier("https://hooks.example.com/x", "run {run_id} failed")


def test_import_legato_loads_no_sending_library():
    code = (
        "import sys, legato, legato.notifications; "
        "loaded = sorted({'apprise', 'httpx', 'smtplib', 'requests'} & set(sys.modules)); "
        "print(loaded); assert not loaded"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

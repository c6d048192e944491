"""Customer_Onboarding: VerifyEmail -> SetupAccount -> (PersonalizeExperience | SendWelcome)."""

from __future__ import annotations

import pytest

from legato import Permanent, RunState, StepState


def test_both_last_steps_run_after_setup_account_and_at_the_same_time(load_example, by_key):
    example = load_example("onboarding")

    handle = example.customer_onboarding.run(
        user_id="u-7", email="grace@example.com", name="Grace Hopper", interests=["Compilers"]
    )

    assert handle.state is RunState.COMPLETED
    result = handle.result()
    assert result["account"]["user_id"] == "u-7"
    assert result["account"]["account_id"].startswith("acct-")
    assert result["profile"] == {"segment": "compilers", "topics": ["compilers"]}
    assert result["welcome"] == {"user_id": "u-7", "message": "Welcome!", "delivered": True}
    steps = by_key(handle.steps)
    assert list(steps) == [
        "VerifyEmail#0",
        "SetupAccount#0",
        "PersonalizeExperience#0",
        "SendWelcome#0",
    ]
    assert all(s.state is StepState.COMPLETED for s in steps.values())
    verify, setup, personalize, welcome = steps.values()
    assert setup.started_at >= verify.finished_at  # DEPENDS_ON VerifyEmail
    for dependent in (personalize, welcome):  # DEPENDS_ON SetupAccount
        assert dependent.started_at >= setup.finished_at
    # Nothing orders the two against each other, so they overlap.
    assert personalize.started_at < welcome.finished_at
    assert welcome.started_at < personalize.finished_at


def test_an_unverifiable_email_stops_the_run_before_the_account_exists(
    load_example, by_key, monkeypatch
):
    example = load_example("onboarding")
    sent: list[str] = []
    monkeypatch.setattr(
        example.NotificationService, "send", staticmethod(lambda user_id, m: sent.append(m))
    )

    handle = example.customer_onboarding.run(email="not-an-address")

    assert handle.state is RunState.FAILED
    with pytest.raises(Permanent, match="could not be verified"):
        handle.result()
    steps = by_key(handle.steps)
    assert steps["VerifyEmail#0"].state is StepState.COMPLETED
    # Permanent: no retry although SetupAccount allows two.
    assert steps["SetupAccount#0"].state is StepState.FAILED
    assert steps["SetupAccount#0"].attempts == 1
    # Their input never arrived: recorded as skipped, their bodies never ran.
    assert steps["PersonalizeExperience#0"].state is StepState.SKIPPED
    assert steps["SendWelcome#0"].state is StepState.SKIPPED
    assert sent == []

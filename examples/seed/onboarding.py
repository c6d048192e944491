"""The seed's business use case, Customer_Onboarding.

    WORKFLOW Customer_Onboarding
      TRIGGER: NewUser.signup()
      TASK VerifyEmail: CALL EmailService.sendVerification(User.email)
      TASK SetupAccount: DEPENDS_ON VerifyEmail
        CALL AccountAPI.create(User.details)
      TASK PersonalizeExperience: DEPENDS_ON SetupAccount
        CALL AI_Model.generateProfile(User.interests)
        CALL CRM.updateContact(User.id, AI_Profile)
      TASK SendWelcome: DEPENDS_ON SetupAccount
        CALL NotificationService.send(User.id, "Welcome!")

Each DEPENDS_ON is a future passed as an argument: a step starts when the steps it was
given have finished, so the flow body is the dependency graph. PersonalizeExperience and
SendWelcome both depend only on SetupAccount, so they run at the same time. The trigger
is the call itself (a signup handler would call ``customer_onboarding(...)``), and the
services are local stand-ins that take ``SERVICE_LATENCY`` seconds per call.

    legato run examples/seed/onboarding.py:customer_onboarding -p email=grace@example.com
"""

from __future__ import annotations

import hashlib
import time

from legato import Permanent, flow, gather, get_run_context, task

SERVICE_LATENCY = 0.2  # seconds per simulated service call


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


class EmailService:
    @staticmethod
    def send_verification(email: str) -> dict:
        time.sleep(SERVICE_LATENCY)
        # The stand-in confirms at once; a real one would wait for the user's click.
        return {"email": email, "verified": "@" in email, "token": _digest("verify", email)}


class AccountAPI:
    @staticmethod
    def create(details: dict, idempotency_key: str) -> dict:
        time.sleep(SERVICE_LATENCY)
        # The idempotency key makes a retried or replayed create return the same account.
        return {"account_id": f"acct-{_digest(idempotency_key)}", **details}


class AI_Model:  # the seed's name
    @staticmethod
    def generate_profile(interests: list[str]) -> dict:
        time.sleep(SERVICE_LATENCY)
        topics = sorted({i.strip().lower() for i in interests if i.strip()})
        return {"segment": topics[0] if topics else "general", "topics": topics}


class CRM:
    @staticmethod
    def update_contact(user_id: str, profile: dict) -> dict:
        time.sleep(SERVICE_LATENCY)
        return {"user_id": user_id, "crm_updated": True, "segment": profile["segment"]}


class NotificationService:
    @staticmethod
    def send(user_id: str, message: str) -> dict:
        time.sleep(SERVICE_LATENCY)
        return {"user_id": user_id, "message": message, "delivered": True}


@task(name="VerifyEmail", retries=2, retry_delay=0.5)
def verify_email(email: str) -> dict:
    return EmailService.send_verification(email)


@task(name="SetupAccount", retries=2, retry_delay=0.5)
def setup_account(details: dict, verification: dict) -> dict:
    if not verification["verified"]:
        # Retrying cannot fix a bad address: fail at once.
        raise Permanent(f"email {verification['email']!r} could not be verified")
    return AccountAPI.create(details, get_run_context().idempotency_key)


@task(name="PersonalizeExperience", retries=2, retry_delay=0.5)
def personalize_experience(account: dict, interests: list[str]) -> dict:
    ai_profile = AI_Model.generate_profile(interests)
    CRM.update_contact(account["user_id"], ai_profile)
    return ai_profile


@task(name="SendWelcome", retries=2, retry_delay=0.5)
def send_welcome(account: dict) -> dict:
    return NotificationService.send(account["user_id"], "Welcome!")


@flow(name="Customer_Onboarding")
def customer_onboarding(
    user_id: str = "u-1001",
    email: str = "ada@example.com",
    name: str = "Ada Lovelace",
    interests: list[str] | None = None,
) -> dict:
    interests = ["mathematics", "engines"] if interests is None else interests
    details = {"user_id": user_id, "email": email, "name": name}
    verification = verify_email.submit(email)
    account = setup_account.submit(details, verification)  # DEPENDS_ON VerifyEmail
    profile = personalize_experience.submit(account, interests)  # DEPENDS_ON SetupAccount
    welcome = send_welcome.submit(account)  # DEPENDS_ON SetupAccount
    ai_profile, notification = gather(profile, welcome)
    return {"account": account.result(), "profile": ai_profile, "welcome": notification}


if __name__ == "__main__":
    print(customer_onboarding())

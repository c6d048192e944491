"""The contract of the token verbs (``TokenStore``) on every backend."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from legato.errors import StoreError, UsageError
from legato.store.tokens import (
    Role,
    TokenRecord,
    TokenStore,
    check_token_name,
    hash_token,
    matches,
    new_token,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def token(name: str, secret: str, role: Role = Role.VIEWER) -> TokenRecord:
    return TokenRecord(
        name=name, role=role, token_hash=hash_token(secret), created_at=T0, created_by="ops"
    )


def test_every_backend_is_a_token_store(store):
    assert isinstance(store, TokenStore)


def test_a_created_token_is_found_by_its_hash_with_its_role(store):
    assert not store.has_tokens()
    store.create_token(token("ci", "s3cret", Role.OPERATOR))
    found = store.find_token(hash_token("s3cret"))
    assert found == token("ci", "s3cret", Role.OPERATOR)
    assert found.role is Role.OPERATOR
    assert store.find_token(hash_token("other")) is None
    assert store.has_tokens()


def test_a_second_token_with_the_same_name_is_refused_and_the_first_kept(store):
    store.create_token(token("ci", "one"))
    with pytest.raises(StoreError, match="'ci' exists already; revoke it first"):
        store.create_token(token("ci", "two", Role.ADMIN))
    assert store.list_tokens() == [token("ci", "one")]


def test_tokens_are_listed_by_name(store):
    store.create_token(token("zoe", "z"))
    store.create_token(token("alice", "a", Role.APPROVER))
    assert [t.name for t in store.list_tokens()] == ["alice", "zoe"]


def test_a_revoked_token_is_no_longer_found(store):
    store.create_token(token("ci", "s3cret"))
    assert store.revoke_token("ci") is True
    assert store.find_token(hash_token("s3cret")) is None
    assert store.revoke_token("ci") is False
    assert not store.has_tokens()


def test_new_tokens_are_random_and_only_their_hash_matches():
    first, second = new_token(), new_token()
    assert first != second and first.startswith("lgt_") and len(first) > 40
    record = token("ci", first)
    assert record.token_hash != first
    assert matches(record, first) and not matches(record, second)


@pytest.mark.parametrize("name", ["", "a b", "-x", "x" * 65, "../etc", "a/b"])
def test_token_names_that_cannot_name_a_token_are_refused(name):
    with pytest.raises(UsageError, match="use 1 to 64 letters"):
        check_token_name(name)

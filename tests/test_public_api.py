"""The public API is exactly ``legato.__all__``: sorted, complete for errors, importable."""

from __future__ import annotations

import inspect

import legato
from legato import errors


def test_all_is_sorted_types_first_then_functions() -> None:
    key = [(name[0].islower(), name) for name in legato.__all__]
    assert key == sorted(key), "keep legato.__all__ sorted: classes A-Z, then functions a-z"
    assert len(set(legato.__all__)) == len(legato.__all__)


def test_every_name_in_all_is_importable() -> None:
    for name in legato.__all__:
        assert getattr(legato, name) is not None, name


def test_every_error_a_user_can_meet_is_exported_and_in_the_tree() -> None:
    defined = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, errors.LegatoError)
    }
    assert defined - set(legato.__all__) == set(), "export every error from legato"
    for name in defined:
        assert name in (errors.__doc__ or ""), f"draw {name} in the tree in legato.errors"


def test_input_errors_are_legato_errors() -> None:
    assert issubclass(legato.InputError, legato.LegatoError)
    assert issubclass(legato.InputRejected, legato.LegatoError)


def test_misuse_raises_usage_error_with_what_to_do() -> None:
    try:
        legato.wait_for_event("payment")
    except legato.UsageError as exc:
        assert "inside a running flow" in str(exc)
        assert isinstance(exc, legato.LegatoError)
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("wait_for_event outside a flow must raise UsageError")

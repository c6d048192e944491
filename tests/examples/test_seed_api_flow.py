"""The Prefect-style API example against a local HTTP server (no public network)."""

from __future__ import annotations

import traceback
import urllib.error

import pytest

from legato import RunState, StepState


def test_fetches_the_json_and_extracts_the_title(load_example, by_key, api):
    example = load_example("api_flow")

    handle = example.api_flow.run(api.url)

    assert handle.state is RunState.COMPLETED
    assert handle.result() == "delectus aut autem"
    steps = by_key(handle.steps)
    assert list(steps) == ["get_data_from_api#0", "extract_title#0"]
    assert steps["get_data_from_api#0"].attempts == 1
    assert api.paths == ["/todos/1"]


def test_a_server_error_is_retried(load_example, by_key, api):
    example = load_example("api_flow")
    api.failures = 1

    handle = example.api_flow.run(url=api.url)

    assert handle.state is RunState.COMPLETED
    assert handle.result() == "delectus aut autem"
    fetch = by_key(handle.steps)["get_data_from_api#0"]
    assert fetch.state is StepState.COMPLETED
    assert fetch.attempts == 2
    assert len(api.paths) == 2


def test_after_two_retries_the_run_fails_with_the_http_error(load_example, by_key, api):
    example = load_example("api_flow")
    api.failures = 10

    handle = example.api_flow.run(api.url)

    assert handle.state is RunState.FAILED
    with pytest.raises(urllib.error.HTTPError) as failure:
        handle.result()
    assert failure.value.code == 500
    # HTTPError's message ignores its args, so legato says where in a note.
    shown = "".join(traceback.format_exception_only(failure.value))
    assert handle.run_id in shown
    assert "get_data_from_api#0" in shown
    fetch = by_key(handle.steps)["get_data_from_api#0"]
    assert fetch.state is StepState.FAILED
    assert fetch.attempts == 3  # retries=2: three attempts in all
    assert len(api.paths) == 3
    assert "extract_title#0" not in by_key(handle.steps)


def test_a_response_without_a_title(load_example, api):
    example = load_example("api_flow")
    api.body = {"id": 2}

    assert example.api_flow(api.url) == "No Title Found"

"""The seed's diagram: A -> B -> (success) C, or (failure) Handle Error -> Notify; End State."""

from __future__ import annotations

from legato import RunState, StepState


def test_success_path_runs_task_c(load_example, by_key):
    example = load_example("diagram")

    handle = example.diagram.run(order_id="A-1", fail_b=False)

    assert handle.state is RunState.COMPLETED
    assert handle.result() == {"outcome": "success", "detail": "order A-1 shipped (3 items)"}
    steps = by_key(handle.steps)
    assert list(steps) == ["TaskA#0", "TaskB#0", "TaskC#0", "EndState#0"]
    assert all(s.state is StepState.COMPLETED for s in steps.values())
    assert steps["TaskB#0"].attempts == 1


def test_failure_path_handles_the_error_notifies_and_still_ends(load_example, by_key):
    example = load_example("diagram")

    handle = example.diagram.run(order_id="A-2", fail_b=True)

    assert handle.state is RunState.COMPLETED  # the failure was handled: the run ends
    result = handle.result()
    assert result["outcome"] == "failure"
    assert result["detail"].startswith("alert sent: order A-2 failed: ")
    assert "inventory service refused order A-2 (attempt 2)" in result["detail"]
    steps = by_key(handle.steps)
    assert list(steps) == ["TaskA#0", "TaskB#0", "HandleError#0", "Notify#0", "EndState#0"]
    task_b = steps["TaskB#0"]
    assert task_b.state is StepState.FAILED
    assert task_b.attempts == 2  # retries=1: one retry after the first attempt
    assert task_b.error is not None and "TaskBError" in task_b.error.type
    assert "TaskC#0" not in steps
    for key in ("TaskA#0", "HandleError#0", "Notify#0", "EndState#0"):
        assert steps[key].state is StepState.COMPLETED
    assert steps["HandleError#0"].started_at >= task_b.finished_at
    assert steps["Notify#0"].started_at >= steps["HandleError#0"].finished_at


def test_the_failure_path_is_the_flows_own_result(load_example):
    example = load_example("diagram")

    assert example.diagram(fail_b=True)["outcome"] == "failure"
    assert example.diagram()["outcome"] == "success"

"""The seed's diagram of how orchestration works.

    [Trigger] ---> (Orchestrator) ---> [Task A] ---> [Task B]
                                                      |      |
                                              (Success)      (Failure)
                                                      v      v
                                               [Task C]      [Handle Error] ---> [Notify]
                                                      |                             |
                                                      +-------> [End State] <-------+

The trigger is the call that starts the run (``diagram()``, or ``legato run``); the
orchestrator is legato. Task B is retried once; if it still fails, its exception (the
same type it raised) comes back to the flow, and the ``except`` is the failure path.
Either way the run reaches the end state and completes, and every step, including the
failed attempts of B, is in the run's history (``legato runs show``).

    legato run examples/seed/diagram.py:diagram                  # A, B, C, EndState
    legato run examples/seed/diagram.py:diagram -p fail_b=true   # A, B x2, HandleError, ...
"""

from __future__ import annotations

from legato import flow, get_run_context, task


class TaskBError(RuntimeError):
    """What Task B raises when its work fails."""


@task(name="TaskA")
def task_a(order_id: str) -> dict:
    return {"order_id": order_id, "items": 3}


@task(name="TaskB", retries=1, retry_delay=0.1)
def task_b(order: dict, fail: bool) -> dict:
    if fail:
        attempt = get_run_context().attempt
        raise TaskBError(f"inventory service refused order {order['order_id']} (attempt {attempt})")
    return {**order, "reserved": True}


@task(name="TaskC")
def task_c(order: dict) -> str:
    return f"order {order['order_id']} shipped ({order['items']} items)"


@task(name="HandleError")
def handle_error(order: dict, error: str) -> dict:
    # Undo what was done before the failure, and say what happened.
    return {"order_id": order["order_id"], "released": True, "error": error}


@task(name="Notify")
def notify(report: dict) -> str:
    return f"alert sent: order {report['order_id']} failed: {report['error']}"


@task(name="EndState")
def end_state(outcome: str, detail: str) -> dict:
    return {"outcome": outcome, "detail": detail}


@flow(name="Orchestration_Diagram")
def diagram(order_id: str = "A-1001", fail_b: bool = False) -> dict:
    order = task_a(order_id)
    try:
        reserved = task_b(order, fail_b)
    except TaskBError as exc:  # (Failure)
        report = handle_error(order, str(exc))
        return end_state("failure", notify(report))
    return end_state("success", task_c(reserved))  # (Success)


if __name__ == "__main__":
    print(diagram())

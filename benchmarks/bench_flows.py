"""Flows the worker benchmark submits (importable by worker processes by file path)."""

from __future__ import annotations

from legato import flow, task


@task
def step(x: int) -> int:
    return x + 1


@flow
def five_steps(x: int = 0) -> int:
    for _ in range(5):
        x = step(x)
    return x


@task
def after_approval(x: int) -> int:
    return x


@flow
def parked(x: int = 0) -> int:
    import legato

    answer = legato.wait_for_input("approval")
    return after_approval(answer["x"])


@flow
def triggered(x: int = 0) -> int:
    """Started by the trigger benchmark's deployments; its first step is ``step``."""
    return step(x)

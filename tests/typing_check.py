"""Checked by mypy in `make lint`: the decorators keep the decorated signatures.

Each `reveal_type`-free assertion below is a line mypy must accept or reject as noted;
`make lint` fails if a signature is lost (the `type: ignore` would become unused).
"""

from __future__ import annotations

from legato import StepFuture, flow, task


@task
def add(x: int, y: int = 1) -> int:
    return x + y


@task(retries=2)
def greet(name: str) -> str:
    return f"hi {name}"


@flow
def pipeline(n: int) -> str:
    total: int = add(n, y=2)
    future: StepFuture[int] = add.submit(total)
    futures: list[StepFuture[str]] = greet.map(["a", "b"])
    return greet(str(future.result())) + futures[0].result()


@flow(name="named", retries=1)
def named(flag: bool) -> int:
    return 1 if flag else 0


result: str = pipeline(3)
count: int = named(True)

# Wrong argument types must be rejected: if the decorators erased the signature, these
# ignores would be unused and mypy (warn_unused_ignores) would fail.
add("x", 1)  # type: ignore[arg-type]
pipeline(n="3")  # type: ignore[arg-type]
greet(name=3)  # type: ignore[arg-type]
wrong: int = pipeline(3)  # type: ignore[assignment]
